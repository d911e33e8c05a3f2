/** Imports every type file, then builds the schema. */
import { lexicographicSortSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.js';
import './user.js';
import './auth.js';
import './api-token.js';
import './embed-token.js';
import './presence.js';
import './dashboard.js';
import './events.js';
import './series.js';
import './datasource.js';

let schema: GraphQLSchema | undefined;

/** The schema, built on first use (no work at import time). */
export function getSchema(): GraphQLSchema {
  schema ??= builder.toSchema();
  return schema;
}

/** The schema sorted, as printed to schema/schema.graphql. */
export function getSortedSchema(): GraphQLSchema {
  return lexicographicSortSchema(getSchema());
}
