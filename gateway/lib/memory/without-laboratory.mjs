// Module resolution hook (node:module register), used when GraphiQL is off: the engine's CLI imports
// @graphql-hive/render-laboratory eagerly, a 21 MB bundle that holds ~70 MB of heap for a page production
// never serves. It is replaced by a stub with the same export (docs/performance.md, gateway memory).
const STUB = new URL('./laboratory-stub.mjs', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === '@graphql-hive/render-laboratory') return { url: STUB, shortCircuit: true };
  return nextResolve(specifier, context);
}
