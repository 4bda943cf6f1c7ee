// The official vSphere OpenAPI subsets (../shared/vsphere-api/openapi/) as
// validators. Two checks per value:
//   1. ajv (draft 2019-09) against the schema, OpenAPI 3.0 features converted;
//   2. a deep "no undeclared field" walk, so a misspelled optional field
//      fails too (OpenAPI schemas do not forbid extra properties).
// Used by the simulator to validate requests and by the contract tests to
// validate the simulator's answers.

import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import Ajv2019Module from 'ajv/dist/2019.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

export type Schema = Record<string, any>;

/** Where the subsets are: $VSPHERE_API_SPEC_DIR, else ../shared/vsphere-api/openapi from the working directory. */
export function specDir(): string {
  return process.env['VSPHERE_API_SPEC_DIR'] ?? join(process.cwd(), '..', 'shared', 'vsphere-api', 'openapi');
}

export const REST_SPEC_FILE = 'vcenter-subset.yaml';
export const VIM_SPEC_FILE = 'vi-json-subset.yaml';

export function specsPresent(dir = specDir()): boolean {
  return existsSync(join(dir, REST_SPEC_FILE)) && existsSync(join(dir, VIM_SPEC_FILE));
}

/**
 * A spec file as an object. Parsing 4,000 lines of YAML costs about a second on a busy
 * machine, and every test file starts a simulator: the parse is kept as JSON in the temp
 * folder, keyed by the file's size and modification time.
 */
function loadSpec(file: string): Schema {
  const st = statSync(file);
  const cacheDir = join(tmpdir(), 'vsphere-api-spec-cache');
  const cached = join(cacheDir, `${basename(file)}-${st.size}-${Math.floor(st.mtimeMs)}.json`);
  try {
    return JSON.parse(readFileSync(cached, 'utf8')) as Schema;
  } catch {
    // not cached yet (or unreadable): parse the YAML
  }
  const doc = parse(readFileSync(file, 'utf8')) as Schema;
  try {
    mkdirSync(cacheDir, { recursive: true });
    const partial = `${cached}.${process.pid}.tmp`;
    writeFileSync(partial, JSON.stringify(doc));
    renameSync(partial, cached); // atomic: concurrent readers never see half a file
  } catch {
    // a read-only temp folder only costs the parse next time
  }
  return doc;
}

/** OpenAPI 3.0 schema → JSON Schema: nullable, component $refs, no discriminator (we validate via allOf). */
function convert(node: unknown, refBase = '#/definitions/'): unknown {
  if (Array.isArray(node)) return node.map((n) => convert(n, refBase));
  if (!node || typeof node !== 'object') return node;
  const out: Schema = {};
  for (const [k, v] of Object.entries(node as Schema)) {
    if (k === 'discriminator' || k === 'description' || k === 'example') continue;
    if (k === '$ref' && typeof v === 'string') out.$ref = v.replace('#/components/schemas/', refBase);
    else out[k] = convert(v, refBase);
  }
  if (out.nullable === true) {
    delete out.nullable;
    return { anyOf: [out, { type: 'null' }] };
  }
  return out;
}

export class SpecValidator {
  /** The whole document (paths, parameters...). */
  readonly doc: Schema;
  readonly schemas: Record<string, Schema>;
  private readonly ajv = new Ajv2019Module.default({ strict: false, allErrors: true });
  private readonly id: string;

  constructor(file: string, id: string, patch?: (schemas: Record<string, Schema>) => void, dir = specDir()) {
    this.doc = loadSpec(join(dir, file));
    this.schemas = structuredClone(this.doc.components.schemas) as Record<string, Schema>;
    patch?.(this.schemas);
    addFormatsModule.default(this.ajv);
    for (const f of ['int32', 'int64', 'float', 'double', 'password', 'byte', 'binary']) this.ajv.addFormat(f, true);
    this.ajv.addSchema({ $id: id, definitions: convert(this.schemas) });
    this.id = id;
  }

  /** All problems with `value` as an instance of schema `name` (empty = valid). */
  errors(name: string, value: unknown): string[] {
    if (!this.schemas[name]) throw new Error(`no schema ${name}`);
    const validate = this.ajv.getSchema(`${this.id}#/definitions/${name}`);
    if (!validate) throw new Error(`ajv cannot compile ${name}`);
    const errs = validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
    return [...errs, ...this.undeclared({ $ref: `#/components/schemas/${name}` }, value, '')];
  }

  /** Problems with `value` as an instance of an inline schema (a parameter's), $refs into the components allowed. */
  inlineErrors(schema: Schema, value: unknown): string[] {
    const key = JSON.stringify(schema);
    let validate = this.inline.get(key);
    if (!validate) {
      validate = this.ajv.compile(convert(schema, `${this.id}#/definitions/`) as Schema);
      this.inline.set(key, validate);
    }
    return validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
  }

  private readonly inline = new Map<string, ReturnType<Ajv2019Module.default['compile']>>();

  /** Property names declared by a schema, through $ref and allOf. */
  private declared(schema: Schema): { props: Map<string, Schema>; additional?: Schema } {
    const props = new Map<string, Schema>();
    let additional: Schema | undefined;
    const visit = (s: Schema | undefined): void => {
      if (!s) return;
      if (s.$ref) return visit(this.schemas[String(s.$ref).replace('#/components/schemas/', '')]);
      for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, Schema>)) props.set(k, v);
      if (s.additionalProperties && typeof s.additionalProperties === 'object') additional = s.additionalProperties as Schema;
      for (const sub of (s.allOf ?? []) as Schema[]) visit(sub);
    };
    visit(schema);
    return additional ? { props, additional } : { props };
  }

  private undeclared(schema: Schema, value: unknown, path: string): string[] {
    if (Array.isArray(value)) {
      const items = this.itemsOf(schema);
      return items ? value.flatMap((v, i) => this.undeclared(items, v, `${path}/${i}`)) : [];
    }
    if (!value || typeof value !== 'object') return [];
    // Polymorphic slots (Any, MethodFault, ...): the instance names its type,
    // either a schema name or a box named by Any's discriminator mapping
    // ('boolean' → PrimitiveBoolean). A type the subset leaves out (see
    // MISSING.txt, e.g. HostRuntimeInfo or enum boxes) cannot be checked deeper.
    let effective = schema;
    const typeName = (value as Schema)._typeName;
    if (typeof typeName === 'string') {
      const mapped = this.schemas[typeName] ? `#/components/schemas/${typeName}` : (this.schemas.Any?.discriminator?.mapping?.[typeName] as string | undefined);
      if (!mapped) return [];
      effective = { $ref: mapped };
    }
    const { props, additional } = this.declared(effective);
    const out: string[] = [];
    for (const [k, v] of Object.entries(value as Schema)) {
      const sub = props.get(k) ?? additional;
      if (!sub) {
        out.push(`${path}/${k} is not declared by the schema`);
        continue;
      }
      out.push(...this.undeclared(sub, v, `${path}/${k}`));
    }
    return out;
  }

  private itemsOf(schema: Schema): Schema | undefined {
    if (schema.items) return schema.items as Schema;
    if (schema.$ref) return this.itemsOf(this.schemas[String(schema.$ref).replace('#/components/schemas/', '')] ?? {});
    for (const sub of (schema.allOf ?? []) as Schema[]) {
      const items = this.itemsOf(sub);
      if (items) return items;
    }
    return undefined;
  }
}
