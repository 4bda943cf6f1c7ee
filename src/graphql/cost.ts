/**
 * What an operation may return, computed from the document AND the variable values
 * (graphql-armor's cost limit reads only literals, so `first: $n` cost nothing). Every field
 * costs 1; a field with a selection costs 1 plus its selection, times its page size (`first`
 * or `last`: the argument's value, else the default page size; 1 for fields without one).
 */
import { Kind } from 'graphql';
import type { DocumentNode, FieldNode, FragmentDefinitionNode, GraphQLSchema, OperationDefinitionNode, SelectionSetNode, ValueNode } from 'graphql';
import { DEFAULT_PAGE_SIZE } from './connection.ts';

const PAGE_ARGUMENTS = ['first', 'last'];

/**
 * The schema's types are read by shape, not with graphql-js's isObjectType & co.: the schema
 * may come from the other graphql-js build (CommonJS vs ESM), which instanceof rejects.
 */
interface TypeShape {
  ofType?: TypeShape;
  getFields?: () => Record<string, { args: readonly { name: string }[]; type: TypeShape }>;
}

const named = (type: TypeShape | undefined): TypeShape | undefined => {
  let t = type;
  while (t?.ofType) t = t.ofType;
  return t;
};

export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  rawVariables: Record<string, unknown> | null | undefined,
): number {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations.length === 1 ? operations[0] : undefined;
  if (!operation) return 0; // execution reports the missing operation
  const variableDefaults = new Map(operation.variableDefinitions?.map((d) => [d.variable.name.value, d.defaultValue]) ?? []);

  /** An Int argument's value: a literal, or a variable's value (or its default); else undefined. */
  const intValue = (node: ValueNode | undefined): number | undefined => {
    if (!node) return undefined;
    if (node.kind === Kind.INT) return Number(node.value);
    if (node.kind === Kind.VARIABLE) {
      const name = node.name.value;
      const value = rawVariables?.[name];
      if (typeof value === 'number') return value;
      if (value === undefined) return intValue(variableDefaults.get(name) ?? undefined);
    }
    return undefined; // null or not an Int: execution decides (the default page size, or BAD_USER_INPUT)
  };
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  /** Fragment costs, each computed once (a fragment is spread many times; cycles fail validation). */
  const fragmentCosts = new Map<string, number>();

  const pageSize = (field: FieldNode, argumentNames: readonly string[]): number => {
    let size = 1;
    for (const name of PAGE_ARGUMENTS) {
      if (!argumentNames.includes(name)) continue;
      const value = intValue(field.arguments?.find((a) => a.name.value === name)?.value) ?? DEFAULT_PAGE_SIZE;
      if (Number.isFinite(value)) size = Math.max(size, value);
    }
    return size;
  };

  const selectionCost = (selectionSet: SelectionSetNode, parent: TypeShape | undefined): number => {
    let cost = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (!selection.selectionSet) {
          cost += 1;
          continue;
        }
        const definition = parent?.getFields?.()[selection.name.value];
        const argumentNames = definition?.args.map((a) => a.name) ?? [];
        cost += (1 + selectionCost(selection.selectionSet, named(definition?.type))) * pageSize(selection, argumentNames);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? (schema.getType(selection.typeCondition.name.value) as TypeShape | undefined) : parent;
        cost += 1 + selectionCost(selection.selectionSet, type);
      } else {
        const name = selection.name.value;
        let fragmentCost = fragmentCosts.get(name);
        if (fragmentCost === undefined) {
          fragmentCosts.set(name, 0); // guards against a cycle while it is being computed
          const fragment = fragments.get(name);
          const type = fragment ? (schema.getType(fragment.typeCondition.name.value) as TypeShape | undefined) : undefined;
          fragmentCost = fragment ? 1 + selectionCost(fragment.selectionSet, type) : 0;
          fragmentCosts.set(name, fragmentCost);
        }
        cost += 1 + fragmentCost;
      }
    }
    return cost;
  };

  const root = schema.getRootType(operation.operation);
  return selectionCost(operation.selectionSet, (root ?? undefined) as TypeShape | undefined);
}
