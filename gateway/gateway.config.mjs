// Hive Gateway configuration: the engine's own options wherever it has one, a few small plugins otherwise.
// Every knob comes from lib/settings.mjs (environment variables, documented in docs/gateway.md).
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { defineConfig } from '@graphql-hive/gateway';
import { useErrorPolicy } from './lib/plugins/error-codes.mjs';
import { createResponseCache } from './lib/plugins/response-cache.mjs';
import { useSubgraphHealth } from './lib/plugins/health.mjs';
import { corsFor, useRequestGuards } from './lib/plugins/request-guards.mjs';
import { settings } from './lib/settings.mjs';
import { loadSupergraph } from './lib/supergraph.mjs';
import { setupTracing } from './lib/tracing.mjs';
import { createLeanHttpTransport, rememberRequestId } from './lib/transport/lean-http.mjs';

// Refuse to start on a missing or broken supergraph (the engine would otherwise keep retrying).
loadSupergraph(settings.supergraphPath);

/** Hive Router's query planner ships native builds for Linux (glibc) and macOS only; elsewhere
 * (e.g. Alpine's musl) the gateway falls back to the JavaScript runtime instead of failing. */
async function routerRuntime() {
  if (!settings.routerRuntime) return undefined;
  try {
    await import('@graphql-hive/router-query-planner'); // the native part: fails here, not at the first request
    return (await import('@graphql-hive/router-runtime')).unifiedGraphHandler;
  } catch (error) {
    console.warn(`gateway: Hive Router runtime unavailable (${error.message}); using the JavaScript runtime`);
    return undefined;
  }
}
const unifiedGraphHandler = await routerRuntime();

// One per process (connections and subscription), shared by every request.
const responseCache = settings.responseCache
  ? createResponseCache({
      redisUrl: settings.redisUrl,
      ttlSeconds: settings.responseCacheTtlSeconds,
      channels: settings.responseCacheChannels,
      subgraphs: settings.responseCacheSubgraphs,
      supergraphPath: settings.supergraphPath,
      development: settings.development,
      auth: settings.responseCacheAuth,
    })
  : null;

// Headers API clients send that subgraphs need; nothing else reaches them (no cookies).
// X-Correlation-ID is handled by `requestId` below (kept or generated, then forwarded).
const FORWARDED_HEADERS = ['authorization', 'x-cart-id', 'user-agent'];

/** The client's address appended to X-Forwarded-For, so subgraphs that trust one proxy
 * (e.g. accounts' ACCOUNTS_TRUSTED_PROXY_COUNT=1 login throttling) see the real caller. */
function forwardedFor(request, context) {
  const peer = context.req?.socket?.remoteAddress;
  if (!peer) return undefined;
  const chain = request.headers.get('x-forwarded-for');
  return chain ? `${chain}, ${peer}` : peer;
}

/** Process memory in MB for /health (the soak bench watches it; docs/performance.md). */
function memoryFigures() {
  const mb = (bytes) => Math.round(bytes / 1048576);
  const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
  return { rssMb: mb(rss), heapTotalMb: mb(heapTotal), heapUsedMb: mb(heapUsed), externalMb: mb(external), arrayBuffersMb: mb(arrayBuffers) };
}
// Traces to an OTLP collector when OTEL_EXPORTER_OTLP_ENDPOINT is set (docs/operations.md); off otherwise.
const openTelemetry = setupTracing();
// The engine's own transport makes the fetch spans, so tracing keeps it.
const leanTransport = settings.leanTransport && !openTelemetry
  ? createLeanHttpTransport({ timeoutMs: settings.subgraphTimeoutMs })
  : null;
// The engine's per-call timeout only where the lean transport does not time the call itself.
const upstreamTimeout = leanTransport && settings.subgraphTimeoutMs
  ? ({ subgraphName, executionRequest }) =>
      executionRequest && leanTransport.handlesTimeout(subgraphName, executionRequest) ? 0 : settings.subgraphTimeoutMs
  : settings.subgraphTimeoutMs;

export const gatewayConfig = defineConfig({
  supergraph: settings.supergraphPath,
  host: settings.host,
  port: settings.port,
  fork: settings.fork,
  maxHeaderSize: settings.maxHeaderBytes,
  graphqlEndpoint: settings.graphqlEndpoint,
  logging: settings.logLevel,
  jit: settings.jit,
  ...(unifiedGraphHandler ? { unifiedGraphHandler } : {}),
  ...(openTelemetry ? { openTelemetry } : {}),

  propagateHeaders: {
    fromClientToSubgraphs({ request, context }) {
      const headers = { 'x-forwarded-for': forwardedFor(request, context) };
      for (const name of FORWARDED_HEADERS) {
        const value = request.headers.get(name);
        if (value !== null) headers[name] = value;
      }
      return headers;
    },
  },
  // The lean transport forwards the id itself (the engine's onFetch hook does not run for it).
  requestId: { headerName: 'x-correlation-id', ...(leanTransport ? { generateRequestId: rememberRequestId } : {}) },

  ...(leanTransport ? { transports: { http: leanTransport } } : {}),
  ...(settings.subgraphBatching ? {} : { __experimental__batchExecution: false }),
  transportEntries: {
    '*.http': { options: { deduplicateInflightRequests: settings.dedupeInflight } },
  },
  ...(settings.subgraphTimeoutMs ? { upstreamTimeout } : {}),

  // OWASP GraphQL cheat sheet: bound every dimension of a request before it is planned.
  maxDepth: settings.maxDepth,
  maxTokens: settings.maxTokens,
  demandControl: { maxCost: settings.maxCost, listSize: settings.costListSize },
  batching: settings.maxBatch > 1 ? { limit: settings.maxBatch } : false,
  blockFieldSuggestions: !settings.development,
  disableIntrospection: settings.introspection ? undefined : {},
  graphiql: settings.graphiql ? { title: 'Catalog platform API' } : false,
  landingPage: false,
  // Unexpected errors become "Unexpected error." with no message or stack; GraphQL errors from the
  // subgraphs (already masked there) pass through with their extensions.code.
  maskedErrors: true,
  cors: corsFor(settings.corsOrigins, {
    methods: ['GET', 'POST'],
    allowedHeaders: ['content-type', 'authorization', 'x-cart-id', 'x-correlation-id'],
    exposedHeaders: ['x-correlation-id'],
    credentials: false,
    maxAge: 600,
  }),

  plugins: () => [
    useRequestGuards({ maxBodyBytes: settings.maxBodyBytes, maxJsonDepth: settings.maxJsonDepth }),
    useSubgraphHealth({
      supergraphPath: settings.supergraphPath,
      showUrls: settings.development,
      extra: () => ({ responseCache: responseCache ? responseCache.stats() : { enabled: false }, memory: memoryFigures() }),
    }),
    // After the guards and health (they end requests early), before everything that parses or plans.
    ...(responseCache ? [responseCache.plugin] : []),
    // `__typename` aliases count too (graphql-armor lets them through by default).
    maxAliasesPlugin({ n: settings.maxAliases, allowList: [] }),
    maxDirectivesPlugin({ n: settings.maxDirectives }),
    useErrorPolicy({ development: settings.development }),
  ],
});
