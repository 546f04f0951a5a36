// Layer 3 of docs/caching.md: whole federated answers of public catalog queries, in Redis.
// Built on @envelop/response-cache (the engine behind Hive Gateway's `responseCaching`) with our own
// store and policy: a hit is served before the request is parsed, validated or planned.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { useResponseCache as useEnvelopResponseCache } from '@envelop/response-cache';
import { Redis } from 'ioredis';
import { ChangeSubscriber } from '../response-cache/invalidation.mjs';
import { createTokenChecker } from '../auth/token-check.mjs';
import { createPolicy, publicRootFields, responseKey } from '../response-cache/policy.mjs';
import { RedisResponseStore } from '../response-cache/store.mjs';

const HIT = Symbol.for('servedFromResponseCache');

function redisClient(url, role) {
  return new Redis(url, {
    connectionName: `gateway-response-cache-${role}`,
    // Fail fast while Redis is away: a cache error is a miss, never a slow or failed request.
    enableOfflineQueue: role === 'subscriber',
    maxRetriesPerRequest: role === 'subscriber' ? null : 0,
    connectTimeout: 500,
    commandTimeout: role === 'subscriber' ? undefined : 250,
    retryStrategy: (times) => Math.min(times * 100, 2000),
    lazyConnect: false,
  });
}

function rateLimitedWarn(logger, intervalMs = 30_000) {
  let last = 0;
  let suppressed = 0;
  return (error, what) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      suppressed += 1;
      return;
    }
    logger.warn(`response cache: Redis ${what} failed (${error.message}); serving from the subgraphs` +
      (suppressed ? ` (${suppressed} similar warnings suppressed)` : ''));
    last = now;
    suppressed = 0;
  };
}

const ACCOUNTS_URL = /@join__graph\(\s*name:\s*"accounts"\s*,\s*url:\s*"([^"]+)"/;

/** The accounts JWKS: the configured URL, else the one next to the accounts subgraph in the supergraph. */
export function jwksUrlFor(sdl, configured) {
  if (configured) return configured;
  const accounts = ACCOUNTS_URL.exec(sdl)?.[1];
  return accounts ? new URL('/.well-known/jwks.json', accounts).href : null;
}

/**
 * Returns { plugin, stats() } for gateway.config.mjs.
 * settings: redisUrl, ttlSeconds, channels, subgraphs, supergraphPath, development, and `auth`
 * ({ signedIn, jwksUrl, issuer, audience, leewaySeconds, stateCacheMs, registryRedisUrl }) for signed-in callers.
 */
export function createResponseCache({ redisUrl, ttlSeconds, channels, subgraphs, supergraphPath, development, auth = {}, logger = console }) {
  const sdl = readFileSync(supergraphPath, 'utf8');
  // Answers depend on the schema: a recomposed supergraph starts from a clean cache.
  const prefix = `gateway:rc:${createHash('sha256').update(sdl).digest('hex').slice(0, 12)}`;
  const commands = redisClient(redisUrl, 'commands');
  commands.on('error', () => {}); // reported per failed command (rate-limited)
  const store = new RedisResponseStore({ redis: commands, prefix, onError: rateLimitedWarn(logger) });
  const subscriber = redisClient(redisUrl, 'subscriber');
  subscriber.on('error', () => {});
  const changes = new ChangeSubscriber({ subscriber, publisher: commands, store, channels, logger });
  changes.start().catch((error) => logger.warn(`response cache: subscribe failed: ${error.message}`));

  // Signed-in callers share the public (or staff) answers once the gateway has checked their token itself.
  const jwksUrl = auth.signedIn === false ? null : jwksUrlFor(sdl, auth.jwksUrl);
  let tokens = null;
  let registryClient = null;
  if (jwksUrl) {
    const registry = auth.registryRedisUrl && auth.registryRedisUrl !== redisUrl ? redisClient(auth.registryRedisUrl, 'auth') : commands;
    registry.on('error', () => {});
    if (registry !== commands) registryClient = registry;
    tokens = createTokenChecker({
      jwksUrl,
      issuer: auth.issuer,
      audience: auth.audience,
      leewaySeconds: auth.leewaySeconds,
      stateCacheMs: auth.stateCacheMs,
      redis: registry,
    });
  } else if (auth.signedIn !== false) {
    logger.warn('response cache: no accounts JWKS (no accounts subgraph, no AUTH_JWKS_URL): signed-in requests are not cached');
  }

  const decide = createPolicy({ rootFields: publicRootFields(sdl, subgraphs) });
  const decisions = new WeakMap(); // GraphQL context -> decision (one per operation, also in batches)
  const mutationRequests = new WeakSet();

  // The envelop plugin stores answers and computes TTLs; lookups are done in onParams below,
  // so its own lookup (after parsing) always misses without a second Redis round trip.
  const envelopCache = {
    get: () => undefined,
    set: (id, result, entities, ttl) => store.set(id, result, [...entities], ttl),
    invalidate: (entities) => store.invalidate([...entities]),
  };

  const plugin = {
    onPluginInit({ addPlugin }) {
      addPlugin(
        useEnvelopResponseCache({
          cache: envelopCache,
          ttl: ttlSeconds * 1000,
          // Belt and braces: a user object is never stored, whatever the policy let through.
          ttlPerType: { User: 0 },
          ttlPerSchemaCoordinate: { 'Query.me': 0 },
          session: () => null,
          enabled: (context) => decisions.get(context)?.cacheable === true,
          buildResponseCacheKey: ({ context }) => decisions.get(context).key,
          invalidateViaMutation: false, // mutations: see onResultProcess
          includeExtensionMetadata: false,
        }),
      );
    },
    onParams({ params, request, context, setResult }) {
      const decision = decide(params);
      if (context) decisions.set(context, decision);
      if (!decision.cacheable) {
        store.stats.skipped += 1;
        if (decision.reason === 'mutation') mutationRequests.add(request);
        return undefined;
      }
      const serve = (scope) => {
        decision.key = responseKey(decision, scope);
        store.tag(decision.key, decision.sets);
        return store.get(decision.key).then((cached) => {
          if (!cached) return;
          store.tagsByResponse.delete(decision.key);
          const result = { ...cached, [HIT]: true };
          if (development) result.extensions = { ...cached.extensions, responseCache: { hit: true } };
          setResult(result);
        });
      };
      const authorization = request.headers.get('authorization');
      if (authorization === null) return serve('public');
      const refuse = () => {
        // Not answered from (nor stored in) the cache: the subgraphs verify the token and refuse it.
        decision.cacheable = false;
        store.stats.skipped += 1;
        return undefined;
      };
      if (!tokens) return refuse();
      return tokens.check(authorization).then((verdict) => (verdict.ok ? serve(verdict.staff ? 'staff' : 'public') : refuse()));
    },
    onDispose() {
      // The open Redis connections would keep the process alive after SIGTERM (the engine disposes its
      // plugins and then waits for the event loop to empty): close them.
      const clients = new Set([commands, subscriber, registryClient].filter(Boolean));
      return Promise.allSettled([...clients].map((client) => client.quit().catch(() => client.disconnect())));
    },
    onResultProcess({ request }) {
      // Read-your-writes: the services published their changes before answering the mutation;
      // wait until this gateway has applied them before the client can send its next read.
      if (mutationRequests.has(request)) return changes.barrier();
      return undefined;
    },
  };

  return {
    plugin,
    stats: () => ({
      enabled: true,
      ttlSeconds,
      channels,
      redis: commands.status,
      subscriber: subscriber.status,
      ...store.stats,
      hitRatio: store.stats.hit + store.stats.miss > 0
        ? Math.round((store.stats.hit / (store.stats.hit + store.stats.miss)) * 1000) / 1000
        : null,
      invalidation: { ...changes.stats },
      signedIn: tokens ? { enabled: true, jwksUrl, ...tokens.stats } : { enabled: false },
    }),
  };
}
