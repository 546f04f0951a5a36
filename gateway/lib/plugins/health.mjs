// GET /health: the gateway's view of every subgraph (each service's own /health/), for load
// balancers and operators. 200 when all subgraphs are healthy, 503 otherwise.
// Results are cached briefly so the endpoint cannot be used to flood the subgraphs.
import { loadSupergraph } from '../supergraph.mjs';

const PATHS = new Set(['/health', '/health/']);

async function probe({ name, url }, timeoutMs) {
  const healthUrl = new URL('/health/', url).href;
  const started = performance.now();
  try {
    const response = await fetch(healthUrl, { signal: AbortSignal.timeout(timeoutMs) });
    const body = await response.json().catch(() => null);
    return {
      name,
      status: response.ok && body?.status === 'ok' ? 'ok' : 'error',
      httpStatus: response.status,
      checks: body?.checks,
      ms: Math.round((performance.now() - started) * 100) / 100,
    };
  } catch (error) {
    return { name, status: 'unreachable', error: error.cause?.code ?? error.cause?.errors?.[0]?.code ?? error.name, ms: Math.round(performance.now() - started) };
  }
}

export function useSubgraphHealth({ supergraphPath, timeoutMs = 2000, cacheMs = 1000, showUrls = false, extra = () => ({}) }) {
  let cached = null;

  async function report() {
    if (cached && performance.now() - cached.at < cacheMs) return cached.value;
    let subgraphs;
    try {
      // Read on each (uncached) check: the supergraph may have been recomposed since start-up.
      subgraphs = loadSupergraph(supergraphPath).subgraphs;
    } catch (error) {
      return { status: 'error', supergraph: 'invalid', error: error.message };
    }
    const results = await Promise.all(subgraphs.map((subgraph) => probe(subgraph, timeoutMs)));
    const value = {
      status: results.every((r) => r.status === 'ok') ? 'ok' : 'degraded',
      supergraph: 'loaded',
      subgraphs: Object.fromEntries(
        results.map(({ name, ...rest }, i) => [name, showUrls ? { ...rest, url: subgraphs[i].url } : rest]),
      ),
    };
    cached = { at: performance.now(), value };
    return value;
  }

  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (request.method !== 'GET' || !PATHS.has(url.pathname)) return undefined;
      return report().then((value) =>
        endResponse(
          // `extra` (e.g. cache counters) is informational and always current; it never changes the status.
          fetchAPI.Response.json({ ...value, ...extra() }, {
            status: value.status === 'ok' ? 200 : 503,
            headers: { 'cache-control': 'no-store' },
          }),
        ),
      );
    },
  };
}
