// Every error a client sees carries extensions.code, and production answers carry no internals.
// The request-limit rules (depth, aliases, directives, tokens) throw plain GraphQLErrors without a
// code, and the engine echoes the JSON parser's message as `originalError` even in production.
// An operation whose execution failed everywhere answers `data: null` (GraphQL spec), so a subgraph
// outage is a 200 with masked errors rather than a bare 500 (the Rust router runtime omits `data`).
// What the engine's fetch hook attaches to a failed subgraph call (the subgraph's internal URL, the body
// sent, the answer received): shown in development, never in production.
const INTERNAL_EXTENSIONS = ['request', 'response'];

function fixError(error, { development }) {
  if (!error || typeof error !== 'object') return;
  if (!development && error.extensions && INTERNAL_EXTENSIONS.some((name) => name in error.extensions)) {
    const rest = { ...error.extensions };
    for (const name of INTERNAL_EXTENSIONS) delete rest[name];
    error.extensions = rest;
  }
  const extensions = error.extensions ?? {};
  if (!extensions.code || (!development && 'originalError' in extensions)) {
    const { originalError, ...rest } = extensions;
    error.extensions = {
      ...rest,
      ...(development && originalError ? { originalError } : {}),
      code: extensions.code ?? (/^Syntax Error: (?!.*limit)/.test(error.message) ? 'GRAPHQL_PARSE_FAILED' : 'GRAPHQL_VALIDATION_FAILED'),
    };
  }
}

function fixResult(result, options) {
  const errors = result?.errors ?? [];
  for (const error of errors) fixError(error, options);
  if (errors.some((error) => error.path) && !('data' in result)) result.data = null;
}

export function useErrorPolicy({ development }) {
  const options = { development };
  return {
    onResultProcess({ result }) {
      if (Array.isArray(result)) result.forEach((item) => fixResult(item, options));
      else if (result && !(Symbol.asyncIterator in result)) fixResult(result, options);
    },
  };
}
