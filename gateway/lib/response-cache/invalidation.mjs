// Invalidation driven by the services' change messages (Redis pub/sub, e.g. `catalog:changes`):
//   {"service": "catalog", "namespaces": ["product:<id>", "products", ...], "entities": [{"typename", "id"}]}
// Messages are handled one at a time, in order. Pub/sub is not durable: whenever the subscription is
// (re)established, every cached answer is dropped (the TTL is the other backstop).
//
// Read-your-writes: a service publishes its message before it answers the mutation, so after a mutation
// the gateway publishes a marker on its own channel on the same Redis and waits until its subscriber
// has received it: every message published before it has then been applied.
import { randomUUID } from 'node:crypto';

/** What one change message drops: entity sets, the list answers, or everything. */
export function invalidationsFor(message) {
  const namespaces = Array.isArray(message.namespaces) ? message.namespaces : [];
  const entities = (Array.isArray(message.entities) ? message.entities : []).filter(
    (e) => typeof e?.typename === 'string' && e.id != null,
  );
  // Category changes reach product answers through product.category: rare, so drop all.
  const everything = namespaces.some((ns) => ns === 'all' || ns === 'categories' || ns.startsWith('category'));
  const lists = everything || namespaces.some((ns) => ns === 'products' || ns.startsWith('sku:'));
  return { everything, lists, entities: entities.map(({ typename, id }) => ({ typename, id: String(id) })) };
}

export class ChangeSubscriber {
  constructor({ subscriber, publisher, store, channels, logger = console, barrierTimeoutMs = 1000 }) {
    this.subscriber = subscriber;
    this.publisher = publisher;
    this.store = store;
    this.channels = channels;
    this.logger = logger;
    this.barrierTimeoutMs = barrierTimeoutMs;
    this.barrierChannel = `${store.prefix}:barrier:${randomUUID()}`;
    this.waiting = new Map(); // barrier nonce -> resolve
    this.queue = Promise.resolve();
    this.stats = { messages: 0, resubscribed: 0, barriers: 0, barrierTimeouts: 0, badMessages: 0 };

    subscriber.on('ready', () => this.enqueue(() => this.dropAll('subscription (re)established')));
    subscriber.on('message', (channel, raw) => this.enqueue(() => this.onMessage(channel, raw)));
  }

  async start() {
    await this.subscriber.subscribe(...this.channels, this.barrierChannel);
  }

  enqueue(job) {
    this.queue = this.queue.then(job).catch((error) => this.logger.warn(`response cache: invalidation failed: ${error.message}`));
    return this.queue;
  }

  async dropAll(reason) {
    // The command connection may come back after the subscriber: retry until it answers.
    for (let attempt = 0; ; attempt += 1) {
      try {
        const dropped = await this.store.dropAll();
        this.stats.resubscribed += 1;
        this.logger.info?.(`response cache: dropped ${dropped} keys (${reason})`);
        return;
      } catch (error) {
        if (attempt >= 40) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  async onMessage(channel, raw) {
    if (channel === this.barrierChannel) {
      this.waiting.get(raw)?.();
      this.waiting.delete(raw);
      return;
    }
    let message;
    try {
      message = JSON.parse(raw);
    } catch {
      this.stats.badMessages += 1;
      return;
    }
    this.stats.messages += 1;
    const { everything, lists, entities } = invalidationsFor(message);
    if (everything) {
      await this.store.dropAll();
      return;
    }
    if (entities.length > 0) await this.store.invalidate(entities);
    if (lists) await this.store.invalidateTags(['lists']);
  }

  /** Resolves once every change message published before this call has been applied (or after a timeout). */
  async barrier() {
    this.stats.barriers += 1;
    const nonce = randomUUID();
    const done = new Promise((resolve) => this.waiting.set(nonce, resolve));
    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.barrierTimeoutMs);
    });
    try {
      await this.publisher.publish(this.barrierChannel, nonce);
      if ((await Promise.race([done, timeout])) === 'timeout') this.stats.barrierTimeouts += 1;
    } catch (error) {
      this.stats.barrierTimeouts += 1;
      this.logger.warn(`response cache: barrier failed: ${error.message}`);
    } finally {
      clearTimeout(timer);
      this.waiting.delete(nonce);
    }
  }

  close() {
    this.subscriber.disconnect();
  }
}
