// GraphQL Code Generator: typed documents for the web clients, from the committed schema
// (never a live server). Output is committed; a test fails when it drifts.
import type { CodegenConfig } from '@graphql-codegen/cli';

// CODEGEN_OUT lets the drift test generate into a scratch folder and compare.
const out = process.env.CODEGEN_OUT ?? 'web/shared/gql/';

const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  documents: ['schema/operations/*.graphql'],
  ignoreNoDocuments: true,
  importExtension: '.js',
  generates: {
    [out]: {
      preset: 'client',
      config: { useTypeImports: true, scalars: { DateTime: 'string', JSON: 'unknown' } },
    },
  },
};

export default config;
