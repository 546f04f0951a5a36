// Reading and checking a composed supergraph before the gateway serves it.
import { existsSync, readFileSync } from 'node:fs';
import { buildASTSchema, parse } from 'graphql';

export class SupergraphError extends Error {}

const JOIN_GRAPH = /^\s*([A-Z0-9_]+)\s+@join__graph\(\s*name:\s*"([^"]+)"\s*,\s*url:\s*"([^"]+)"\s*\)/gm;

/** Subgraphs named in a supergraph SDL, as [{name, url}] (from its join__Graph enum). */
export function subgraphsOf(sdl) {
  return [...sdl.matchAll(JOIN_GRAPH)].map(([, , name, url]) => ({ name, url }));
}

/** Throws SupergraphError unless `sdl` is a buildable federation supergraph with at least one subgraph. */
export function checkSupergraph(sdl) {
  if (!/@link\(\s*url:\s*"https:\/\/specs\.apollo\.dev\/join\/v0\.\d+"/.test(sdl)) {
    throw new SupergraphError('not a federation supergraph (no join spec @link)');
  }
  try {
    buildASTSchema(parse(sdl), { assumeValidSDL: false });
  } catch (error) {
    throw new SupergraphError(`invalid supergraph SDL: ${error.message}`);
  }
  const subgraphs = subgraphsOf(sdl);
  if (subgraphs.length === 0) throw new SupergraphError('the supergraph names no subgraph');
  return subgraphs;
}

/** Reads and checks the supergraph file; throws SupergraphError with a hint when missing or broken. */
export function loadSupergraph(path) {
  if (!existsSync(path)) {
    throw new SupergraphError(`${path} does not exist: run \`python3 manage_all.py compose\` first`);
  }
  const sdl = readFileSync(path, 'utf8');
  try {
    return { sdl, subgraphs: checkSupergraph(sdl) };
  } catch (error) {
    throw new SupergraphError(`${path}: ${error.message}; run \`python3 manage_all.py compose\``);
  }
}
