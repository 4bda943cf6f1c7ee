// Every request the simulator receives is checked against the official spec
// subsets before its handler runs: VI/JSON request bodies against the
// operation's `*RequestType` schema, REST query and path parameters against
// the operation's parameter schemas. An invalid request is refused the way
// vCenter refuses one: VI/JSON answers the InvalidRequest fault (HTTP 500,
// the only fault status the VI/JSON spec gives), REST answers 400
// INVALID_ARGUMENT (Vapi.Std.Errors.InvalidArgument).
//
// Without the subsets (e.g. a deployed container without ../shared) the
// simulator runs unvalidated and says so once.

import type { ServerResponse } from 'node:http';
import { message } from './esx-settings.ts';
import { sendJson } from './http.ts';
import { REST_SPEC_FILE, SpecValidator, VIM_SPEC_FILE, specDir, specsPresent } from './spec-schemas.ts';
import type { Schema } from './spec-schemas.ts';

export type Verdict =
  /** No operation of the subsets describes this request (nothing to check it against). */
  | { checked: false }
  | { checked: true; problems: string[] };

interface Operation {
  /** Spec path key without its fixed query, e.g. '/vcenter/cluster/{cluster}'. */
  pattern: RegExp;
  /** Fixed query parameters the path key carries ('?action=extract&vmw-task=true'). */
  fixedQuery: URLSearchParams;
  op: Schema;
}

export class RequestValidator {
  private readonly rest: SpecValidator;
  private readonly vim: SpecValidator;
  private readonly restOps: Map<string, Operation[]>;

  constructor(dir: string) {
    this.rest = new SpecValidator(REST_SPEC_FILE, 'vcenter-requests', undefined, dir);
    this.vim = new SpecValidator(VIM_SPEC_FILE, 'vi-json-requests', (schemas) => {
      // Clients may leave out `_typeName` on nested objects whose type the slot already
      // declares (REFERENCE.md: a server accepts bodies with or without it).
      const any = schemas['Any'];
      if (any) schemas['Any'] = { ...any, required: [] };
      const moref = schemas['ManagedObjectReference'];
      if (moref && Array.isArray(moref.required)) schemas['ManagedObjectReference'] = { ...moref, required: (moref.required as string[]).filter((r) => r !== '_typeName') };
    }, dir);
    this.restOps = new Map();
    for (const [key, item] of Object.entries((this.rest.doc.paths ?? {}) as Record<string, Schema>)) {
      const [path = '', query = ''] = key.split('?');
      const pattern = new RegExp(`^${path.replace(/[.*+()[\]\\^$|]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`);
      for (const [method, op] of Object.entries(item)) {
        const m = method.toUpperCase();
        this.restOps.set(m, [...(this.restOps.get(m) ?? []), { pattern, fixedQuery: new URLSearchParams(query), op: op as Schema }]);
      }
    }
    this.compileAll();
  }

  /** Compiles every schema a request can meet now, so that no request pays for it (and timing tests stay honest). */
  private compileAll(): void {
    for (const item of Object.values((this.vim.doc.paths ?? {}) as Record<string, Schema>)) {
      for (const op of Object.values(item)) {
        const ref = (op as Schema).requestBody?.content?.['application/json']?.schema?.$ref as string | undefined;
        if (ref) this.vim.errors(ref.replace('#/components/schemas/', ''), {});
      }
    }
    for (const ops of this.restOps.values()) {
      for (const { op } of ops) for (const p of this.queryParameters(op)) this.rest.inlineErrors(p.schema as Schema, null);
    }
  }

  /** Validated requests of every simulator of this process, by "METHOD route": never reset (see drainTally). */
  private readonly tally = new Map<string, { valid: number; invalid: number }>();

  note(method: string, route: string, valid: boolean): void {
    const key = `${method} ${route}`;
    const t = this.tally.get(key) ?? { valid: 0, invalid: 0 };
    if (valid) t.valid++;
    else t.invalid++;
    this.tally.set(key, t);
  }

  /** The tally since the last drain, then starts a new one. */
  drainTally(): Record<string, { valid: number; invalid: number }> {
    const out = Object.fromEntries(this.tally);
    this.tally.clear();
    return out;
  }

  /** A VI/JSON request: `segments` start with 'sdk', 'vim25', release; `body` is the raw text ('' when none). */
  checkVim(method: string, segments: string[], body: string): Verdict {
    const [, , , type = '', , member = ''] = segments;
    const op = (this.vim.doc.paths?.[`/${type}/{moId}/${member}`] as Schema | undefined)?.[method.toLowerCase()] as Schema | undefined;
    if (!op) return { checked: false };
    const schemaRef = op.requestBody?.content?.['application/json']?.schema?.$ref as string | undefined;
    if (!schemaRef) {
      // No parameters besides `_this`: a body, if any, may carry nothing but its type name.
      const parsed = parseObject(body);
      if (typeof parsed === 'string') return { checked: true, problems: [parsed] };
      const extra = Object.keys(parsed ?? {}).filter((k) => k !== '_typeName');
      return { checked: true, problems: extra.length > 0 ? [`${type}.${member} takes no parameters, got ${extra.join(', ')}`] : [] };
    }
    const name = schemaRef.replace('#/components/schemas/', '');
    const parsed = parseObject(body);
    if (typeof parsed === 'string') return { checked: true, problems: [parsed] };
    if (parsed === undefined) return { checked: true, problems: op.requestBody?.required ? [`${type}.${member} needs a ${name} body`] : [] };
    const { _typeName: typeName, ...params } = parsed;
    // The body may name its type: the spec's request type, or the method's own element name
    // (govmomi's convention: "Login", "ScanHostPatchV2_Task"). Anything else names a type
    // that is not this request, e.g. "ScanHostPatchV2_TaskRequestType".
    if (typeName !== undefined && typeName !== name && typeName !== member) {
      return { checked: true, problems: [`_typeName ${JSON.stringify(typeName)} is not the request type ${name} of ${type}.${member}`] };
    }
    return { checked: true, problems: this.vim.errors(name, params) };
  }

  /** A REST request: `path` without the '/api' prefix. */
  checkRest(method: string, path: string, query: URLSearchParams): Verdict {
    const found = (this.restOps.get(method) ?? []).find(
      (o) => o.pattern.test(path) && [...o.fixedQuery].every(([k, v]) => query.get(k) === v),
    );
    if (!found) return { checked: false };
    const problems: string[] = [];
    const declared = new Set<string>(found.fixedQuery.keys());
    for (const p of this.queryParameters(found.op)) {
      const name = String(p.name);
      declared.add(name);
      const values = query.getAll(name);
      if (values.length === 0) {
        if (p.required) problems.push(`query parameter ${name} is required`);
        continue;
      }
      const schema = p.schema as Schema;
      const value = schema.type === 'array' ? values.map((v) => coerce(schema.items as Schema, v)) : coerce(schema, values[values.length - 1] ?? '');
      if (schema.type !== 'array' && values.length > 1) problems.push(`query parameter ${name} is not repeatable`);
      problems.push(...this.rest.inlineErrors(schema, value).map((e) => `query parameter ${name}: ${e}`));
    }
    for (const key of new Set(query.keys())) if (!declared.has(key)) problems.push(`unknown query parameter ${key}`);
    return { checked: true, problems };
  }

  /**
   * An operation's query parameters; a form-exploded object parameter (`filter`:
   * Vcenter.Host.FilterSpec) stands for one optional query parameter per property.
   */
  private queryParameters(op: Schema): Schema[] {
    const out: Schema[] = [];
    for (const p of (op.parameters ?? []) as Schema[]) {
      if (p.in !== 'query') continue; // path parameters are strings: any segment matches
      const ref = (p.schema as Schema | undefined)?.$ref as string | undefined;
      const target = ref ? this.rest.schemas[ref.replace('#/components/schemas/', '')] : (p.schema as Schema | undefined);
      if (target?.type === 'object' && p.explode !== false) {
        for (const [name, schema] of Object.entries((target.properties ?? {}) as Record<string, Schema>)) out.push({ name, in: 'query', schema });
      } else out.push(p);
    }
    return out;
  }
}

/** The parsed JSON object of a body; undefined when empty; a string describing what is wrong otherwise. */
function parseObject(text: string): Record<string, unknown> | undefined | string {
  if (text.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'The request body is not valid JSON.';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'The request body must be a JSON object.';
  return parsed as Record<string, unknown>;
}

/** A query string value as the parameter's schema types it (form style: booleans and numbers are text). */
function coerce(schema: Schema, raw: string): unknown {
  if (schema.type === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw;
  if (schema.type === 'integer' || schema.type === 'number') return raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  return raw;
}

/** VI/JSON refusal: the InvalidRequest fault (vmodl.fault.InvalidRequest, a RuntimeFault). */
export function refuseVim(res: ServerResponse, problems: string[]): void {
  sendJson(res, 500, { _typeName: 'InvalidRequest', faultstring: `Invalid request: ${problems.slice(0, 5).join('; ')}` });
}

/** REST refusal: 400 with the vAPI INVALID_ARGUMENT error. */
export function refuseRest(res: ServerResponse, problems: string[]): void {
  sendJson(res, 400, {
    error_type: 'INVALID_ARGUMENT',
    messages: problems.slice(0, 5).map((p) => message('vapi.bindings.typeconverter.invalid.argument', p)),
  });
}

let shared: { dir: string; validator: RequestValidator | undefined } | undefined;
let absenceReported = false;

/**
 * One validator per process and spec folder (parsing the subsets costs ~100 ms; tests
 * start many simulators). Undefined without the subsets, said once on stderr.
 */
export function requestValidator(dir = specDir()): RequestValidator | undefined {
  if (shared?.dir === dir) return shared.validator;
  const validator = specsPresent(dir) ? new RequestValidator(dir) : undefined;
  if (!validator && !absenceReported) {
    absenceReported = true;
    console.warn(`vCenter simulator: official OpenAPI subsets not found in ${dir}; requests are not validated against the spec`);
  }
  shared = { dir, validator };
  return validator;
}
