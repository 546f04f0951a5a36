// Gateway settings, all from the environment (12-factor), with safe defaults.
// NODE_ENV=development turns on the developer conveniences; anything else is production.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const GATEWAY_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = resolve(GATEWAY_DIR, '..');

function int(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

function bool(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  return ['1', 'true', 'yes', 'on'].includes(raw.trim().toLowerCase());
}

function list(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined) return fallback;
  return raw.split(',').map((item) => item.trim()).filter(Boolean);
}

export function servicesConfig(path = process.env.SERVICES_JSON || resolve(REPO_ROOT, 'services.json')) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** The request limits every GraphQL endpoint shares (the subgraphs read the same file in
 * common/common/graphql/limits.py); GATEWAY_* variables override them here. */
export const LIMITS_FILE = process.env.GRAPHQL_LIMITS_JSON || resolve(REPO_ROOT, 'common', 'common', 'graphql', 'limits.json');
export const sharedLimits = Object.freeze(JSON.parse(readFileSync(LIMITS_FILE, 'utf8')));

function limit(name, key) {
  const fallback = sharedLimits[key];
  if (!Number.isInteger(fallback)) throw new Error(`${LIMITS_FILE} has no integer "${key}"`);
  return int(name, fallback);
}

function defaultPort() {
  try {
    return servicesConfig().gateway?.port ?? 4000;
  } catch {
    return 4000;
  }
}

const development = process.env.NODE_ENV === 'development';

export const settings = Object.freeze({
  development,
  host: process.env.GATEWAY_HOST || '127.0.0.1',
  port: int('GATEWAY_PORT', defaultPort()),
  supergraphPath: resolve(GATEWAY_DIR, process.env.GATEWAY_SUPERGRAPH || 'supergraph.graphql'),
  graphqlEndpoint: '/graphql',
  // OWASP GraphQL cheat sheet limits; each is checked before anything reaches a subgraph.
  // The numbers come from limits.json, shared with every subgraph.
  maxDepth: limit('GATEWAY_MAX_DEPTH', 'maxDepth'),
  maxAliases: limit('GATEWAY_MAX_ALIASES', 'maxAliases'),
  maxDirectives: limit('GATEWAY_MAX_DIRECTIVES', 'maxDirectives'),
  maxTokens: limit('GATEWAY_MAX_TOKENS', 'maxTokens'),
  maxCost: limit('GATEWAY_MAX_COST', 'maxCost'),
  // Assumed length of every list field when estimating cost (the default page size).
  costListSize: limit('GATEWAY_COST_LIST_SIZE', 'costListSize'),
  maxBodyBytes: limit('GATEWAY_MAX_BODY_BYTES', 'maxBodyBytes'),
  maxBatch: limit('GATEWAY_MAX_BATCH', 'maxBatch'),
  maxJsonDepth: limit('GATEWAY_MAX_JSON_DEPTH', 'maxJsonDepth'),
  maxHeaderBytes: int('GATEWAY_MAX_HEADER_BYTES', 16 * 1024),
  subgraphTimeoutMs: int('GATEWAY_SUBGRAPH_TIMEOUT_MS', 10_000),
  // Subgraph calls over node:http keep-alive instead of the engine's fetch-based executor (lib/transport/
  // lean-http.mjs, same answers; docs/performance.md §4.3). Off: the engine's @graphql-mesh/transport-http.
  // Off as well while OpenTelemetry is on (the engine's transport makes the fetch spans).
  leanTransport: bool('GATEWAY_LEAN_TRANSPORT', true),
  // graphql-yoga's body-size plugin without its per-request counting stream when the request has a
  // Content-Length (lib/engine/body-limit.mjs; the limits stay the same; docs/performance.md §4.3).
  leanBodyLimit: bool('GATEWAY_LEAN_BODY_LIMIT', true),
  // The engine's per-request DataLoader that merges same-tick calls to one subgraph into one request
  // (`__experimental__batchExecution`); measured in docs/performance.md §4.3.
  subgraphBatching: bool('GATEWAY_SUBGRAPH_BATCHING', true),
  // Identical in-flight subgraph requests (same query, variables and forwarded headers) share one fetch.
  dedupeInflight: bool('GATEWAY_DEDUPE_INFLIGHT', true),
  // Browser origins allowed to call the API; none in production unless configured.
  corsOrigins: list(
    'GATEWAY_CORS_ORIGINS',
    development ? ['http://localhost:3000', 'http://127.0.0.1:3000', 'http://localhost:5173', 'http://127.0.0.1:5173'] : [],
  ),
  introspection: bool('GATEWAY_INTROSPECTION', development),
  graphiql: bool('GATEWAY_GRAPHIQL', development),
  fork: int('GATEWAY_FORK', 1),
  // V8 old-generation cap in MB (lib/memory/heap-cap.mjs); 0 leaves V8's default (a share of the host's RAM).
  heapMb: int('GATEWAY_HEAP_MB', 192),
  // V8 young-generation semi-space in MB (--max-semi-space-size); 0 leaves V8's default (16 MB here).
  semiSpaceMb: int('GATEWAY_SEMI_SPACE_MB', 0),
  // V8 --heap-growing-percent: how far the old generation grows between full collections (under the cap);
  // V8 grows a small capped heap only ~1.4x, i.e. twice as many mark-compacts (docs/performance.md §3.1). 0 = V8's choice.
  heapGrowingPercent: int('GATEWAY_HEAP_GROWING_PERCENT', 200),
  // graphql-jit compiles each (cached) operation's execution plan (no measurable gain here).
  jit: bool('GATEWAY_JIT', false),
  // Hive Router's Rust query planner and its executor instead of the JavaScript one (faster, see docs).
  routerRuntime: bool('GATEWAY_ROUTER_RUNTIME', true),
  // Layer 3 of docs/caching.md: public catalog answers in Redis, invalidated by the services' change messages.
  responseCache: bool('GATEWAY_RESPONSE_CACHE', true),
  responseCacheTtlSeconds: int('GATEWAY_RESPONSE_CACHE_TTL', 60),
  responseCacheSubgraphs: list('GATEWAY_RESPONSE_CACHE_SUBGRAPHS', ['catalog']),
  responseCacheChannels: list('GATEWAY_RESPONSE_CACHE_CHANNELS', ['catalog:changes']),
  redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379/0',
  // Signed-in callers get the cached public answers too, after the gateway checked their token the way
  // common.auth does (lib/auth/token-check.mjs); the AUTH_* names and defaults are the services' own.
  responseCacheAuth: Object.freeze({
    signedIn: bool('GATEWAY_RESPONSE_CACHE_SIGNED_IN', true),
    // Default: /.well-known/jwks.json next to the accounts subgraph's URL in the supergraph.
    jwksUrl: process.env.GATEWAY_AUTH_JWKS_URL || process.env.AUTH_JWKS_URL || null,
    issuer: process.env.AUTH_ISSUER || 'catalog-platform-accounts',
    audience: process.env.AUTH_AUDIENCE || 'catalog-platform',
    leewaySeconds: int('AUTH_LEEWAY_SECONDS', 10),
    // How long one registry answer (session alive, user active, jti not revoked) is reused: <= 1 s.
    stateCacheMs: Math.round(Number(process.env.AUTH_STATE_CACHE_SECONDS || '0.5') * 1000),
    registryRedisUrl: process.env.AUTH_REGISTRY_REDIS_URL || process.env.REDIS_URL || 'redis://127.0.0.1:6379/0',
  }),
  logLevel: process.env.GATEWAY_LOG_LEVEL || (development ? 'info' : 'warn'),
});
