// The response cache's storage in Redis, in the shape @envelop/response-cache expects
// (get / set / invalidate), plus tags for "list" answers and hit/miss counters.
//
// Keys (all under one prefix, default `gateway:rc`):
//   <prefix>:r:<responseId>          the serialized answer, with the response's TTL
//   <prefix>:e:<Typename>:<id>       SET of responseIds whose answer contains that entity
//   <prefix>:t:<Typename>            SET of responseIds whose answer contains any entity of that type
//   <prefix>:tag:<tag>               SET of responseIds tagged by the gateway (`tag:lists`: list answers)
// Index sets expire with the longest TTL ever written into them, so nothing grows unbounded.
// Every Redis failure is a miss (reads) or a skipped write: the gateway answers from the subgraphs.

// Deletes the answers listed in the given sets, then the sets; one round trip, atomic.
const DROP_SETS = `
local dropped = 0
for _, set in ipairs(KEYS) do
  local ids = redis.call('SMEMBERS', set)
  for _, id in ipairs(ids) do
    dropped = dropped + redis.call('DEL', ARGV[1] .. id)
  end
  redis.call('DEL', set)
end
return dropped`;

export class RedisResponseStore {
  constructor({ redis, prefix = 'gateway:rc', onError = () => {} }) {
    this.redis = redis;
    this.prefix = prefix;
    this.onError = onError;
    this.tagsByResponse = new Map(); // responseId -> tags, set just before `set` by the same request
    this.stats = { hit: 0, miss: 0, store: 0, error: 0, invalidated: 0, invalidations: 0, skipped: 0 };
    redis.defineCommand('rcDropSets', { lua: DROP_SETS, numberOfKeys: undefined });
  }

  responseKey(id) {
    return `${this.prefix}:r:${id}`;
  }

  /** Extra index sets (`tag:lists`, `e:Product:<id>`) the next `set` of this response id goes into. */
  tag(responseId, tags) {
    if (tags.length === 0) return;
    this.tagsByResponse.set(responseId, tags);
    // Entries are consumed by `set`; an answer that is not stored (errors) must not leak one.
    if (this.tagsByResponse.size > 10_000) this.tagsByResponse.clear();
  }

  async get(responseId) {
    try {
      const raw = await this.redis.get(this.responseKey(responseId));
      if (raw === null) {
        this.stats.miss += 1;
        return undefined;
      }
      this.stats.hit += 1;
      return JSON.parse(raw);
    } catch (error) {
      this.stats.error += 1;
      this.onError(error, 'read');
      return undefined;
    }
  }

  async set(responseId, result, entities, ttlMs) {
    const tags = this.tagsByResponse.get(responseId) ?? [];
    this.tagsByResponse.delete(responseId);
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) return;
    const ttl = Math.ceil(ttlMs);
    const sets = [];
    for (const { typename, id } of entities) {
      sets.push(`${this.prefix}:t:${typename}`);
      if (id != null) sets.push(`${this.prefix}:e:${typename}:${id}`);
    }
    for (const tag of tags) sets.push(`${this.prefix}:${tag}`);
    try {
      const pipe = this.redis.pipeline();
      pipe.set(this.responseKey(responseId), JSON.stringify(result), 'PX', ttl);
      for (const set of new Set(sets)) {
        pipe.sadd(set, responseId);
        pipe.pexpire(set, ttl, 'GT'); // never shorten: older members may live longer
        pipe.pexpire(set, ttl, 'NX'); // a new set gets one
      }
      const replies = await pipe.exec();
      const failed = replies.find(([error]) => error);
      if (failed) throw failed[0];
      this.stats.store += 1;
    } catch (error) {
      this.stats.error += 1;
      this.onError(error, 'write');
    }
  }

  /** Drops every answer containing one of the entities ({typename, id}; no id = the whole type). */
  invalidate(entities) {
    const sets = entities.map(({ typename, id }) =>
      id == null ? `${this.prefix}:t:${typename}` : `${this.prefix}:e:${typename}:${id}`,
    );
    return this.dropSets(sets);
  }

  invalidateTags(tags) {
    return this.dropSets(tags.map((tag) => `${this.prefix}:tag:${tag}`));
  }

  async dropSets(sets) {
    const unique = [...new Set(sets)];
    if (unique.length === 0) return 0;
    try {
      const dropped = await this.redis.rcDropSets(unique.length, ...unique, `${this.prefix}:r:`);
      this.stats.invalidations += 1;
      this.stats.invalidated += dropped;
      return dropped;
    } catch (error) {
      this.stats.error += 1;
      this.onError(error, 'invalidate');
      return 0; // the TTL is the backstop; the subscriber drops everything when Redis comes back
    }
  }

  /** Drops every answer and index of this cache (SCAN, not KEYS: never blocks Redis). */
  async dropAll() {
    let dropped = 0;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) dropped += await this.redis.unlink(...keys);
    } while (cursor !== '0');
    this.stats.invalidations += 1;
    return dropped;
  }
}
