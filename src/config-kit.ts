/**
 * Building blocks of the configuration schema (zod) whose messages say what is expected, and
 * the formatter that turns zod's issues into problems naming the file and the key path (or the
 * flag, or the environment variable). Shared by src/config.ts and src/auth/config.ts.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';

/** Every problem found, each one line naming where it is; the message lists them all. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly problems: readonly string[];
  constructor(problems: string | readonly string[]) {
    const list = typeof problems === 'string' ? [problems] : problems;
    super(list.join('\n'));
    this.problems = list;
  }
}

const expecting = (what: string) => ({ error: `must be ${what}` });

export const boolean = () => z.boolean(expecting('a boolean (true or false)'));

export const text = () => {
  const e = expecting('a non-empty string');
  return z.string(e).refine((s) => s.trim() !== '', e);
};

export const texts = () => {
  const e = expecting('a list of non-empty strings');
  return z.array(z.string(e).min(1, e), e);
};

export const integer = (min: number, max: number) => {
  const e = expecting(`an integer from ${min} to ${max}`);
  return z.number(e).int(e).min(min, e).max(max, e);
};

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => {
  const quoted = values.map((v) => `"${v}"`);
  return z.enum(values, expecting(quoted.length === 1 ? quoted[0]! : `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`));
};

export const list = <T extends z.ZodType>(element: T) => z.array(element, expecting('a list (a JSON array)'));

/** An object whose every key is known: anything else is an "unknown key" problem. */
export const section = <T extends z.ZodRawShape>(shape: T) => z.strictObject(shape, expecting('an object'));

const refusedKeys = new WeakSet<z.ZodType>();

/** A key that is recognised only to be refused with a reason (never suggested for a misspelling). */
export const refused = (reason: string) => {
  const schema = z.unknown().superRefine((_value, ctx) => ctx.addIssue({ code: 'custom', message: reason }));
  refusedKeys.add(schema);
  return schema.optional();
};

/**
 * Runs a cross-field check even when some fields failed their own checks, so every problem shows
 * at once; the check then sees those fields as given, so it must check their types itself.
 */
export const always = { when: (payload: { value: unknown }) => typeof payload.value === 'object' && payload.value !== null };

/** A file path (relative to the configuration file's folder) read as UTF-8 text. */
export const fileText = (baseDir: string) =>
  text().transform((path, ctx) => {
    const file = resolve(baseDir, path);
    try {
      return { file, text: readFileSync(file, 'utf8') };
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` });
      return z.NEVER;
    }
  });

/** The keys that were given: an optional section's defaults are merged under them. */
export function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** `vcenters[0].caFile` */
export function keyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const step of path) out += typeof step === 'number' ? `[${step}]` : `${out ? '.' : ''}${String(step)}`;
  return out;
}

/** A value as a problem shows it: short, and only what its type says for lists and objects. */
function shown(value: unknown): string {
  if (value === undefined) return 'nothing (the key is missing)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object' && value !== null) return 'an object';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}…"` : text;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const step of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<PropertyKey, unknown>)[step];
  }
  return node;
}

function unwrap(node: z.ZodType): z.ZodType {
  for (;;) {
    if (node instanceof z.ZodOptional || node instanceof z.ZodDefault || node instanceof z.ZodNullable) node = node.unwrap() as z.ZodType;
    else if (node instanceof z.ZodPipe) node = node.in as z.ZodType;
    else return node;
  }
}

/** The keys (and their schemas) of the object the schema expects at this path. */
function shapeAt(schema: z.ZodType, path: readonly PropertyKey[]): Record<string, z.ZodType> {
  let node = unwrap(schema);
  for (const step of path) {
    if (typeof step === 'number' && node instanceof z.ZodArray) node = unwrap(node.element as z.ZodType);
    else if (typeof step === 'string' && node instanceof z.ZodObject) node = unwrap(node.shape[step] as z.ZodType);
    else return {};
  }
  return node instanceof z.ZodObject ? (node.shape as Record<string, z.ZodType>) : {};
}

/** Every key path the schema accepts, lists written `vcenters[].name`: what the README must document. */
export function schemaKeyPaths(schema: z.ZodType, prefix = ''): string[] {
  const node = unwrap(schema);
  if (node instanceof z.ZodArray) {
    // A list of objects has keys of its own (`vcenters[].name`); a list of strings is one key.
    return unwrap(node.element as z.ZodType) instanceof z.ZodObject ? schemaKeyPaths(node.element as z.ZodType, `${prefix}[]`) : [prefix];
  }
  if (!(node instanceof z.ZodObject)) return [prefix];
  return Object.entries(node.shape as Record<string, z.ZodType>).flatMap(([key, child]) => schemaKeyPaths(child, prefix ? `${prefix}.${key}` : key));
}

/** Edits (insert, delete, replace, swap two neighbours) that turn a into b. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!;
      row[j] = Math.min(d[i - 1]![j]! + 1, row[j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The known keys closest to a misspelt one (a typo, a wrong case, or a cut-off name). */
export function closestKeys(unknownKey: string, known: readonly string[]): string[] {
  const typed = unknownKey.toLowerCase();
  const scored = known.map((key) => {
    const k = key.toLowerCase();
    return { key, score: Math.min(editDistance(typed, k), editDistance(typed, k.slice(0, typed.length + 1)) + 1) };
  });
  const best = Math.min(...scored.map((s) => s.score));
  if (!Number.isFinite(best) || best > (typed.length < 5 ? 1 : 2)) return [];
  return scored.filter((s) => s.score === best).map((s) => s.key).slice(0, 2);
}

/**
 * zod's issues as problems: `where: path message` (`gateway.json: vcenters[0].timeoutMs must be
 * an integer from 100 to 600000, got "5000"`), one per unknown key with the closest known ones.
 */
export function describeIssues(where: string, schema: z.ZodType, input: unknown, issues: readonly z.core.$ZodIssue[]): string[] {
  const problems: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const shape = shapeAt(schema, issue.path);
      const known = Object.keys(shape).filter((k) => !refusedKeys.has(unwrap(shape[k]!)) && !refusedKeys.has(shape[k]!));
      for (const key of issue.keys) {
        const suggestions = closestKeys(key, known);
        const hint = suggestions.length ? ` (did you mean ${suggestions.map((s) => `"${s}"`).join(' or ')}?)` : '';
        problems.push(`${where}: unknown key "${keyPath([...issue.path, key])}"${hint}`);
      }
      continue;
    }
    const path = keyPath(issue.path);
    const own = /^(must|is|needs) /.test(issue.message);
    const got = issue.message.startsWith('must ') ? `, got ${shown(valueAt(input, issue.path))}` : '';
    problems.push(`${path ? `${where}: ${path}` : where}${own ? ' ' : ': '}${issue.message}${got}`);
  }
  return problems;
}
