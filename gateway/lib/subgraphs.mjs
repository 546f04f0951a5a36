// The subgraphs, from the repository's one list of services (services.json).
import { servicesConfig } from './settings.mjs';

/** A service is a subgraph when it serves GraphQL (`graphql_path`), unless it says `"subgraph": false`. */
export function isSubgraph(service) {
  return service.subgraph ?? Boolean(service.graphql_path);
}

/**
 * The subgraphs, each as {name, url}.
 * `overrides` ({name: url}) replaces the default http://127.0.0.1:<port><graphql_path>,
 * e.g. when tests run the services on free ports.
 */
export function subgraphsFromServices(overrides = {}, config = servicesConfig()) {
  const subgraphs = config.services
    .filter(isSubgraph)
    .map((service) => ({
      name: service.name,
      url: overrides[service.name] ?? `http://127.0.0.1:${service.port}${service.graphql_path}`,
    }));
  const unknown = Object.keys(overrides).filter((name) => !subgraphs.some((s) => s.name === name));
  if (unknown.length) throw new Error(`not a subgraph in services.json: ${unknown.join(', ')}`);
  return subgraphs;
}
