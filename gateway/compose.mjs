#!/usr/bin/env node
// Composes the supergraph from every subgraph's `_service { sdl }`.
//
//   node compose.mjs [--url name=URL ...] [--out PATH] [--wait SECONDS]
//
// Subgraphs come from services.json (services with a graphql_path); --url overrides one subgraph's URL.
// Exit codes: 0 written, 1 composition failed (errors printed), 2 a subgraph could not be reached.
// On failure the previous supergraph file is left untouched.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { composeServices } from '@theguild/federation-composition';
import { parse } from 'graphql';
import { settings } from './lib/settings.mjs';
import { subgraphsFromServices } from './lib/subgraphs.mjs';
import { checkSupergraph } from './lib/supergraph.mjs';

const SDL_QUERY = JSON.stringify({ query: '{ _service { sdl } }' });

class FetchError extends Error {}

async function fetchSdlOnce(url) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: SDL_QUERY,
    signal: AbortSignal.timeout(5000),
  });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new FetchError(`HTTP ${response.status}, not JSON: ${text.slice(0, 200)}`);
  }
  const sdl = body?.data?._service?.sdl;
  if (typeof sdl !== 'string' || !sdl) {
    throw new FetchError(`no _service.sdl in the answer: ${JSON.stringify(body.errors ?? body).slice(0, 300)}`);
  }
  return sdl;
}

/** Retries connection failures until the deadline: services may still be starting. */
async function fetchSdl({ name, url }, deadline) {
  for (;;) {
    try {
      return await fetchSdlOnce(url);
    } catch (error) {
      if (error instanceof FetchError || Date.now() >= deadline) {
        throw new FetchError(`subgraph "${name}" at ${url}: ${error.message}${error.cause ? ` (${error.cause.code ?? error.cause.message})` : ''}`);
      }
      await new Promise((done) => setTimeout(done, 250));
    }
  }
}

function describe(error) {
  const code = error.extensions?.code ? `[${error.extensions.code}] ` : '';
  return `  - ${code}${error.message}`;
}

async function main() {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', multiple: true, default: [] },
      out: { type: 'string', default: settings.supergraphPath },
      wait: { type: 'string', default: '30' },
    },
  });
  const overrides = Object.fromEntries(
    values.url.map((pair) => {
      const at = pair.indexOf('=');
      if (at < 1) throw new Error(`--url expects name=URL, got "${pair}"`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
  const subgraphs = subgraphsFromServices(overrides);
  if (subgraphs.length === 0) throw new Error('services.json lists no subgraph (a service with a graphql_path)');

  const deadline = Date.now() + Number(values.wait) * 1000;
  let services;
  try {
    services = await Promise.all(
      subgraphs.map(async (subgraph) => ({ ...subgraph, typeDefs: parse(await fetchSdl(subgraph, deadline)) })),
    );
  } catch (error) {
    console.error(`compose: cannot read a subgraph schema\n  - ${error.message}`);
    return 2;
  }

  const result = composeServices(services);
  if (result.errors?.length) {
    console.error(`compose: composition FAILED with ${result.errors.length} error(s):`);
    for (const error of result.errors) console.error(describe(error));
    console.error('compose: the supergraph was not written; the gateway will not serve a broken graph.');
    return 1;
  }
  checkSupergraph(result.supergraphSdl);
  const out = resolve(values.out);
  // Written in place (not renamed over): the running gateway watches this file and reloads it.
  writeFileSync(out, result.supergraphSdl);
  console.log(`compose: wrote ${out} from ${services.map((s) => `${s.name} (${s.url})`).join(', ')}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`compose: ${error.message}`);
    process.exit(2);
  },
);
