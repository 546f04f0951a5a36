// V8 sizes its old generation for the machine (about 4 GB on a 24 GB host) and, under a steady stream of
// short-lived objects, lets the heap grow long before collecting it: the gateway's RSS drifted to
// 470-765 MB after 250k requests. A cap makes V8 collect instead (steady ~200 MB, docs/performance.md).
// The flag only works at start-up, so start.mjs re-runs itself once with it unless one is already given.
import { spawn } from 'node:child_process';

const FLAG = '--max-old-space-size';

/** True when this process already runs with a heap cap (command line or NODE_OPTIONS). */
export function heapCapped(execArgv = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? '') {
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((arg) => arg.startsWith(FLAG));
}

/** Runs this script again in a child with the cap (signals forwarded, same exit code). */
export function rerunWithHeapCap(megabytes) {
  const nodeOptions = `${process.env.NODE_OPTIONS ?? ''} ${FLAG}=${megabytes}`.trim();
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, NODE_OPTIONS: nodeOptions },
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
}
