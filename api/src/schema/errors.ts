/**
 * The GraphQL boundary for errors: DomainError becomes `extensions.code`; anything else is
 * masked as INTERNAL_SERVER_ERROR and logged with its details (never sent to clients).
 */
import { GraphQLError } from 'graphql';
import { GRAPHQL_ERROR_CODES } from '@collab-dashboards/core';
import { DomainError, type ErrorCode } from '../errors.js';

const PASS_THROUGH = new Set<string>([...GRAPHQL_ERROR_CODES, 'BAD_USER_INPUT' satisfies ErrorCode]);

export function toGraphQLError(error: unknown, log: (error: unknown) => void): GraphQLError {
  const graphqlError = error instanceof GraphQLError ? error : null;
  const original = graphqlError?.originalError ?? error;
  if (original instanceof DomainError) {
    return new GraphQLError(original.message, {
      nodes: graphqlError?.nodes,
      path: graphqlError?.path,
      extensions: { ...original.extensions, code: original.code satisfies ErrorCode },
    });
  }
  if (graphqlError && !graphqlError.originalError) {
    // graphql-js's own errors: parse, validation, coercion of variables.
    const code = graphqlError.extensions?.code;
    if (typeof code === 'string' && PASS_THROUGH.has(code)) return graphqlError;
    // Yoga's own HTTP codes, into the closed set.
    const mapped =
      code === 'REQUEST_ENTITY_TOO_LARGE' ? 'PAYLOAD_TOO_LARGE' : code === 'BAD_REQUEST' ? 'BAD_USER_INPUT' : null;
    if (mapped) {
      return new GraphQLError(graphqlError.message, {
        nodes: graphqlError.nodes,
        path: graphqlError.path,
        extensions: { ...graphqlError.extensions, code: mapped },
      });
    }
    if (code === undefined) {
      return new GraphQLError(graphqlError.message, {
        nodes: graphqlError.nodes,
        path: graphqlError.path,
        extensions: { ...graphqlError.extensions, code: 'BAD_USER_INPUT' },
      });
    }
    return graphqlError;
  }
  if (graphqlError?.originalError instanceof GraphQLError) return toGraphQLError(graphqlError.originalError, log);
  log(graphqlError?.originalError ?? error);
  return new GraphQLError('Unexpected error', {
    nodes: graphqlError?.nodes,
    path: graphqlError?.path,
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  });
}
