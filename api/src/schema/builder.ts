/** Pothos builder: setup only, no types (those live one per file beside this one). */
import SchemaBuilder from '@pothos/core';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { GraphQLContext } from './context.js';
import { DomainError } from '../errors.js';

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: true;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
  };
}>({
  defaultFieldNullability: false,
  defaultInputFieldRequiredness: true,
});

builder.addScalarType('DateTime', DateTimeResolver);
/** JSON inputs are bounded in depth, so no resolver recurses through a hostile value. */
const MAX_JSON_DEPTH = 64;
function checkJsonDepth(value: unknown, depth = 0): unknown {
  if (depth > MAX_JSON_DEPTH)
    throw new DomainError('BAD_USER_INPUT', `JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) checkJsonDepth(child, depth + 1);
  }
  return value;
}

builder.addScalarType('JSON', JSONResolver, {
  parseValue: (value) => checkJsonDepth(JSONResolver.parseValue(value)),
  parseLiteral: (ast, variables) => checkJsonDepth(JSONResolver.parseLiteral(ast, variables)),
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
