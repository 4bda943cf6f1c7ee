// The official vSphere OpenAPI subsets (../shared/vsphere-api/openapi/) as
// validators for simulator responses. Two checks per body:
//   1. ajv (draft 2019-09) against the schema, OpenAPI 3.0 features converted;
//   2. a deep "no undeclared field" walk, so a misspelled optional field
//      fails too (OpenAPI schemas do not forbid extra properties).

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2019Module from 'ajv/dist/2019.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

export const SPEC_DIR = join(process.cwd(), '..', 'shared', 'vsphere-api', 'openapi');
export const specsPresent = existsSync(join(SPEC_DIR, 'vcenter-subset.yaml')) && existsSync(join(SPEC_DIR, 'vi-json-subset.yaml'));

type Schema = Record<string, any>;

/** OpenAPI 3.0 schema → JSON Schema: nullable, component $refs, no discriminator (we validate via allOf). */
function convert(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(convert);
  if (!node || typeof node !== 'object') return node;
  const out: Schema = {};
  for (const [k, v] of Object.entries(node as Schema)) {
    if (k === 'discriminator' || k === 'description' || k === 'example') continue;
    if (k === '$ref' && typeof v === 'string') out.$ref = v.replace('#/components/schemas/', '#/definitions/');
    else out[k] = convert(v);
  }
  if (out.nullable === true) {
    delete out.nullable;
    return { anyOf: [out, { type: 'null' }] };
  }
  return out;
}

export class SpecValidator {
  readonly schemas: Record<string, Schema>;
  private readonly ajv = new Ajv2019Module.default({ strict: false, allErrors: true });

  constructor(file: string, id: string, patch?: (schemas: Record<string, Schema>) => void) {
    const doc = parse(readFileSync(join(SPEC_DIR, file), 'utf8')) as Schema;
    this.schemas = doc.components.schemas as Record<string, Schema>;
    patch?.(this.schemas);
    addFormatsModule.default(this.ajv);
    for (const f of ['int32', 'int64', 'float', 'double', 'password', 'byte', 'binary']) this.ajv.addFormat(f, true);
    this.ajv.addSchema({ $id: id, definitions: convert(this.schemas) });
    this.id = id;
  }

  private readonly id: string;

  /** All problems with `value` as an instance of schema `name` (empty = valid). */
  errors(name: string, value: unknown): string[] {
    if (!this.schemas[name]) throw new Error(`no schema ${name}`);
    const validate = this.ajv.getSchema(`${this.id}#/definitions/${name}`);
    if (!validate) throw new Error(`ajv cannot compile ${name}`);
    const errs = validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
    return [...errs, ...this.undeclared({ $ref: `#/components/schemas/${name}` }, value, '')];
  }

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

/** The VI/JSON validator as the contract tests use it. */
export function viJsonValidator(): SpecValidator {
  return new SpecValidator('vi-json-subset.yaml', 'vi-json', (schemas) => {
    // vCenter sends `faultstring` on every fault (see REFERENCE.md), though
    // the published MethodFault schema does not declare it.
    schemas.MethodFault = { ...schemas.MethodFault, properties: { ...schemas.MethodFault?.properties, faultstring: { type: 'string' } } };
  });
}

export function restValidator(): SpecValidator {
  return new SpecValidator('vcenter-subset.yaml', 'vcenter');
}
