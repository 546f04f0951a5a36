// Which requests the response cache may share, and how their answers are indexed.
// Rule: only query operations whose every root field belongs to a public subgraph
// (GATEWAY_RESPONSE_CACHE_SUBGRAPHS, default catalog). Everything else - a mutation, `me`, a cart -
// goes to the subgraphs every time. The caller is not part of this decision: the plugin adds the
// visibility scope to the key (`public` for anonymous callers and signed-in shoppers, `staff` for staff
// tokens) after checking the token itself (lib/auth/token-check.mjs), so nothing is ever keyed per user.
import { createHash } from 'node:crypto';
import { Kind, parse } from 'graphql';

const JOIN_GRAPH = /^\s*([A-Z0-9_]+)\s+@join__graph\(\s*name:\s*"([^"]+)"/gm;

/** Root Query fields served by the given subgraphs, read from the supergraph's @join__field. */
export function publicRootFields(supergraphSdl, subgraphNames) {
  const enumOf = new Map([...supergraphSdl.matchAll(JOIN_GRAPH)].map(([, value, name]) => [name, value]));
  const graphs = new Set(subgraphNames.map((name) => enumOf.get(name)).filter(Boolean));
  const query = parse(supergraphSdl).definitions.find(
    (d) => d.kind === Kind.OBJECT_TYPE_DEFINITION && d.name.value === 'Query',
  );
  const fields = new Set();
  for (const field of query?.fields ?? []) {
    const owners = field.directives
      .filter((d) => d.name.value === 'join__field')
      .map((d) => d.arguments.find((a) => a.name.value === 'graph')?.value.value);
    // Without @join__field the field belongs to the type's only subgraph.
    const typeOwners = query.directives.filter((d) => d.name.value === 'join__type').map((d) => d.arguments[0].value.value);
    const candidates = owners.length > 0 ? owners : typeOwners.length === 1 ? typeOwners : [];
    if (candidates.length > 0 && candidates.every((graph) => graphs.has(graph))) fields.add(field.name.value);
  }
  return fields;
}

/** The response id of a cacheable operation in a visibility scope (`public` or `staff`). */
export function responseKey(decision, scope) {
  return createHash('sha256').update(`${scope}\n${decision.digestInput}`).digest('hex');
}

/** Decides per GraphQL request from the document alone: { cacheable, digestInput, sets }
 * (sets: extra index sets for precise invalidation); the plugin turns it into a key with responseKey. */
export function createPolicy({ rootFields, byIdFields = { product: 'Product', category: 'Category' }, maxDocuments = 1000 }) {
  const documents = new Map(); // query text -> parsed document or null (bounded, cleared when full)

  function documentOf(text) {
    if (documents.has(text)) return documents.get(text);
    let document = null;
    try {
      document = parse(text, { noLocation: true });
    } catch {
      // invalid: the gateway reports it; never cached
    }
    if (documents.size >= maxDocuments) documents.clear();
    documents.set(text, document);
    return document;
  }

  return function decide(params) {
    if (typeof params.query !== 'string') return { cacheable: false, reason: 'no query' };
    const document = documentOf(params.query);
    const operations = document?.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION) ?? [];
    const operation = params.operationName
      ? operations.find((o) => o.name?.value === params.operationName)
      : operations.length === 1 && operations[0];
    if (!operation) return { cacheable: false, reason: 'no operation' };
    if (operation.operation !== 'query') return { cacheable: false, reason: operation.operation };
    const sets = [];
    let lists = false;
    for (const selection of operation.selectionSet.selections) {
      // Fragments at the root would hide fields from this check: not cached.
      if (selection.kind !== Kind.FIELD) return { cacheable: false, reason: 'root fragment' };
      const name = selection.name.value;
      if (name === '__typename') continue;
      if (!rootFields.has(name)) return { cacheable: false, reason: `private field ${name}` };
      const typename = byIdFields[name];
      const idArgument = selection.arguments.find((a) => a.name.value === 'id')?.value;
      const id =
        idArgument?.kind === Kind.VARIABLE ? params.variables?.[idArgument.name.value] : idArgument?.value;
      // An answer about one entity is indexed under it even when the client did not select `id`.
      if (typename && typeof id === 'string') sets.push(`e:${typename}:${id}`);
      else lists = true;
    }
    if (lists) sets.push('tag:lists');
    const digestInput = JSON.stringify([params.query, params.operationName ?? null, params.variables ?? null, params.extensions ?? null]);
    return { cacheable: true, digestInput, sets };
  };
}
