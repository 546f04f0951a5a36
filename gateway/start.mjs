#!/usr/bin/env node
// Starts Hive Gateway on the composed supergraph with this directory's config.
// Host and port are passed explicitly so stray HOST/PORT variables in the environment never widen the bind.
import { readFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { missingV8Flags, rerunWithV8Flags } from './lib/memory/heap-cap.mjs';
import { GATEWAY_DIR, settings } from './lib/settings.mjs';
import { SupergraphError, loadSupergraph } from './lib/supergraph.mjs';

const v8Flags = missingV8Flags({
  heapMb: settings.heapMb,
  semiSpaceMb: settings.semiSpaceMb,
  heapGrowingPercent: settings.heapMb > 0 ? settings.heapGrowingPercent : 0, // tunes the capped heap only
});
if (v8Flags.length) {
  rerunWithV8Flags(v8Flags); // this process only waits for the one with the flags
} else {
  await serve();
}

async function serve() {
  try {
    loadSupergraph(settings.supergraphPath);
  } catch (error) {
    if (!(error instanceof SupergraphError)) throw error;
    console.error(`gateway: refusing to start: ${error.message}`);
    process.exit(3);
  }

  // Without GraphiQL the engine's CLI need not hold its 21 MB page bundle in memory (docs/performance.md).
  if (!settings.graphiql) register('./lib/memory/without-laboratory.mjs', import.meta.url);
  // Yoga's body-size plugin without its per-request stream when Content-Length is known (docs/performance.md §4.3).
  if (settings.leanBodyLimit) register('./lib/engine/body-limit-hook.mjs', import.meta.url);

  // The engine's own CLI, run in this process (its bin is not an exported module path).
  const require = createRequire(import.meta.url);
  const packageJson = require.resolve('@graphql-hive/gateway/package.json');
  const bin = resolve(dirname(packageJson), JSON.parse(readFileSync(packageJson, 'utf8')).bin['hive-gateway']);
  process.argv = [
    process.argv[0],
    bin,
    'supergraph',
    settings.supergraphPath,
    '--config-path',
    resolve(GATEWAY_DIR, 'gateway.config.mjs'),
    '--host',
    settings.host,
    '--port',
    String(settings.port),
  ];
  await import(pathToFileURL(bin).href);
}
