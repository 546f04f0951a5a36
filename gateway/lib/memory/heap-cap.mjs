// V8 sizes its old generation for the machine (about 4 GB on a 24 GB host) and, under a steady stream of
// short-lived objects, lets the heap grow long before collecting it: the gateway's RSS drifted to
// 470-765 MB after 250k requests. A cap makes V8 collect instead (steady ~200 MB, docs/performance.md).
// The young generation (`--max-semi-space-size`, GATEWAY_SEMI_SPACE_MB) is where every request's garbage
// dies: a larger one means fewer scavenges; GATEWAY_HEAP_GROWING_PERCENT lets the capped old generation
// grow further between full collections (V8 grows a small capped heap by only ~1.4x; docs/performance.md §3).
// The flags only work at start-up, so start.mjs re-runs itself once with them unless they are already given.
import { spawn } from 'node:child_process';

const HEAP_FLAG = '--max-old-space-size';
const SEMI_FLAG = '--max-semi-space-size';
const GROWING_FLAG = '--heap-growing-percent';

function given(flag, execArgv, nodeOptions) {
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((arg) => arg.startsWith(flag));
}

/** The V8 flags still to add for these settings (none when given on the command line or in NODE_OPTIONS). */
export function missingV8Flags({ heapMb = 0, semiSpaceMb = 0, heapGrowingPercent = 0 } = {}, execArgv = process.execArgv,
  nodeOptions = process.env.NODE_OPTIONS ?? '') {
  const flags = [];
  if (heapMb > 0 && !given(HEAP_FLAG, execArgv, nodeOptions)) flags.push(`${HEAP_FLAG}=${heapMb}`);
  if (semiSpaceMb > 0 && !given(SEMI_FLAG, execArgv, nodeOptions)) flags.push(`${SEMI_FLAG}=${semiSpaceMb}`);
  if (heapGrowingPercent > 0 && !given(GROWING_FLAG, execArgv, nodeOptions)) flags.push(`${GROWING_FLAG}=${heapGrowingPercent}`);
  return flags;
}

/** Runs this script again in a child with the flags on its command line (NODE_OPTIONS refuses some V8
 * flags, e.g. --heap-growing-percent); signals forwarded, same exit code. */
export function rerunWithV8Flags(flags) {
  const child = spawn(process.execPath, [...process.execArgv, ...flags, ...process.argv.slice(1)], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
}
