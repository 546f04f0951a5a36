// Module resolution hook (node:module register, start.mjs; GATEWAY_LEAN_BODY_LIMIT): graphql-yoga's body-size
// plugin is replaced by ./body-limit.mjs, the same plugin without the per-request stream when the request
// has a Content-Length (docs/performance.md §4.3). Only yoga's own import of that file is redirected.
const REPLACEMENT = new URL('./body-limit.mjs', import.meta.url).href;
const TARGET = '/plugins/request-validation/use-limit-request-body-size.js';

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  if (resolved.url.endsWith(TARGET) && resolved.url.includes('/node_modules/graphql-yoga/esm/')) {
    return { url: REPLACEMENT, shortCircuit: true };
  }
  return resolved;
}
