// A lean transport for the HTTP subgraphs (docs/performance.md §4.3, docs/gateway.md "Subgraph transport").
//
// The engine's own transport (@graphql-mesh/transport-http → @graphql-tools/executor-http) goes through
// a WHATWG fetch (@whatwg-node/node-fetch: Request, Response and Headers objects, two AbortSignal.any per
// call, the onFetch hook chain) for what is one JSON POST on a keep-alive socket. This one sends that POST
// with node:http on a keep-alive Agent of its own and answers exactly what executor-http would: the same
// printed document (its print cache), the same body, the same result and error objects (messages,
// extensions.code, originalError: what the masking decides on). What the onFetch hooks did is done here:
//   - propagated headers: usePropagateHeaders' onSubgraphExecute (still run) leaves them in
//     executionRequest.extensions.headers; they are sent and kept out of the body, like executor-http does;
//   - the correlation id (useRequestId's onFetch): the client's header, or the id the engine generated
//     (gateway.config.mjs hands the generator `rememberRequestId`);
//   - the subgraph timeout: a timer per call here, with useUpstreamTimeout's answer (a thrown GATEWAY_TIMEOUT,
//     HTTP 504); gateway.config.mjs turns the engine's (an AbortSignal.timeout, an AbortSignal.any, a
//     Promise.race per call) off for the calls this transport serves (`handlesTimeout`), not for the others;
//   - `executionRequest.signal` (when the engine sets one) still aborts the call.
// Anything this transport does not do (subscriptions, static transport headers, retries, GET, APQ, file
// uploads, incremental delivery) goes to the engine's transport, built on first use.
import http from 'node:http';
import https from 'node:https';
import { defaultPrintFn } from '@graphql-tools/executor-common';
import { createGraphQLError } from '@graphql-tools/utils';
import { DisposableSymbols } from '@whatwg-node/disposablestack';
import { GraphQLError } from 'graphql';

const ACCEPT = 'application/graphql-response+json, application/json, multipart/mixed';
// Options of the engine's http transport this one implements; any other one sends the subgraph there.
const LEAN_OPTIONS = new Set(['deduplicateInflightRequests']);
const TIMEOUT_MESSAGE = 'The operation was aborted due to timeout'; // AbortSignal.timeout's, as the engine says it

// The ids useRequestId generated for requests that came without one (the engine keeps its own map private).
const generatedIds = new WeakMap();

/** For `requestId.generateRequestId`: a random UUID (the engine's default), remembered for the transport. */
export function rememberRequestId({ request, fetchAPI = globalThis }) {
  const id = fetchAPI.crypto.randomUUID();
  generatedIds.set(request, id);
  return id;
}

/** Whether a transport entry can go through this transport (else: the engine's). */
export function isLeanEntry(entry) {
  if (entry.kind !== 'http' || !entry.location || entry.headers) return false;
  return Object.keys(entry.options ?? {}).every((key) => LEAN_OPTIONS.has(key));
}

/** executor-http's createGraphQLErrorForAbort: a timeout is TIMEOUT_ERROR/504, anything else keeps its reason. */
function abortError(reason, extensions) {
  if (reason instanceof GraphQLError) return reason;
  if (reason?.name === 'TimeoutError') {
    return createGraphQLError(reason.message, {
      extensions: { http: { status: 504, ...(extensions?.http || {}) }, code: 'TIMEOUT_ERROR', ...(extensions || {}) },
      originalError: reason,
    });
  }
  return createGraphQLError(reason?.message, { extensions, originalError: reason });
}

/** What useUpstreamTimeout throws when a subgraph call outlives the timeout. */
function timeoutError() {
  return createGraphQLError(TIMEOUT_MESSAGE, { extensions: { code: 'GATEWAY_TIMEOUT', http: { status: 504 } } });
}

/** executor-http's handleError/coerceFetchError for a request that got no answer. */
function fetchError(error, { signal, endpoint, upstream }) {
  upstream.code = 'SUBREQUEST_HTTP_ERROR';
  if (signal?.aborted) return { errors: [abortError(signal.reason, upstream)] };
  if (error?.name === 'TimeoutError') return { errors: [abortError(error, upstream)] }; // our timer ended it
  if (error?.message) {
    // whatwg fetch reports a refused/reset connection as TypeError("fetch failed"), which executor-http words so.
    return { errors: [createGraphQLError(`fetch failed to ${endpoint}`, { extensions: upstream, originalError: error })] };
  }
  return { errors: [createGraphQLError('Unknown error', { extensions: upstream, originalError: error })] };
}

/** executor-http's reading of a text answer, any status (it has no retry here, so 5xx bodies are read too). */
function readResult(text, upstream) {
  upstream.response.body = text;
  if (!text) {
    const message = 'No response returned';
    upstream.code = 'RESPONSE_VALIDATION_FAILED';
    return { errors: [createGraphQLError(message, { extensions: upstream, originalError: new Error(message) })] };
  }
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    upstream.code = 'RESPONSE_VALIDATION_FAILED';
    return { errors: [createGraphQLError(`Unexpected response: ${JSON.stringify(text)}`, { extensions: upstream, originalError: error })] };
  }
  upstream.response.body = parsed;
  if (parsed.data == null && (parsed.errors == null || parsed.errors.length === 0)) {
    const message = `Unexpected empty "data" and "errors" fields in result: ${text}`;
    upstream.code = 'RESPONSE_VALIDATION_FAILED';
    return { errors: [createGraphQLError(message, { originalError: new Error(message), extensions: upstream })] };
  }
  if (Array.isArray(parsed.errors)) {
    return { ...parsed, errors: parsed.errors.map(({ message, ...options }) => createGraphQLError(message, options)) };
  }
  return parsed;
}

/** One POST; resolves (never rejects) to an execution result, as executor-http's executor does. */
function post({ url, agent, client, endpoint }, body, headers, signal, call) {
  const upstream = { request: { method: 'POST', body } };
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result) => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    let request;
    try {
      request = client.request(url, { method: 'POST', agent, headers, signal }, onResponse);
    } catch (error) {
      finish(fetchError(error, { signal, endpoint, upstream })); // e.g. a header value Node refuses
      return;
    }
    if (call) call.request = request;
    request.on('error', (error) => finish(fetchError(error, { signal, endpoint, upstream })));
    request.end(body);

    function onResponse(response) {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('error', (error) => finish(fetchError(error, { signal, endpoint, upstream })));
      response.on('end', () => {
        upstream.response = { status: response.statusCode, statusText: response.statusMessage };
        // Like executor-http: the headers are there for whoever looks, but not serialised with the error.
        Object.defineProperty(upstream.response, 'headers', { get: () => ({ ...response.headers }) });
        // Like the fetch ponyfill's text(): UTF-8, a BOM kept (and so refused by JSON.parse, as there).
        finish(readResult(chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8'), upstream));
      });
    }
  });
}

/** useUpstreamTimeout's behaviour at a timer's price: the caller gets GATEWAY_TIMEOUT (thrown) after `ms`;
 * the HTTP call it started, if any (`call.request`), is ended. */
function withTimeout(result$, ms, call) {
  if (!ms) return result$;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(timeoutError());
      call?.request?.destroy(new DOMException(TIMEOUT_MESSAGE, 'TimeoutError'));
    }, ms);
    result$.then((result) => {
      clearTimeout(timer);
      resolve(result);
    });
  });
}

/** Whether a call goes to the engine's transport (what this one does not do). */
function needsEngine(executionRequest) {
  const ext = executionRequest.extensions;
  return operationTypeOf(executionRequest) === 'subscription' || Boolean(ext?.fetch || ext?.endpoint || ext?.method || ext?.useGETForQueries);
}

function operationTypeOf(executionRequest) {
  return executionRequest.operationType ?? executionRequest.document?.definitions?.find(
    (definition) => definition.kind === 'OperationDefinition',
  )?.operation;
}

/**
 * The transport module shape the engine expects ({getSubgraphExecutor}), for `transports.http`.
 * `fallback` is the engine's http transport (lazily imported), used for whatever this one does not do.
 */
export function createLeanHttpTransport({ timeoutMs = 0, fallback = () => import('@graphql-mesh/transport-http') } = {}) {
  const leanSubgraphs = new Set();
  return {
    /** For `upstreamTimeout`: true when this transport times the call itself (the engine need not). */
    handlesTimeout(subgraphName, executionRequest) {
      return Boolean(timeoutMs) && leanSubgraphs.has(subgraphName) && !needsEngine(executionRequest);
    },
    getSubgraphExecutor(payload) {
      const entry = payload.transportEntry;
      let engineExecutor;
      const viaEngine = (executionRequest) => {
        engineExecutor ||= Promise.resolve(fallback()).then((module) =>
          (module.default ?? module).getSubgraphExecutor(payload),
        );
        return engineExecutor.then((executor) => executor(executionRequest));
      };
      if (!isLeanEntry(entry)) return viaEngine;
      leanSubgraphs.add(payload.subgraphName);

      const url = new URL(entry.location);
      const secure = url.protocol === 'https:';
      const target = {
        url,
        endpoint: entry.location,
        client: secure ? https : http,
        // Keep-alive sockets of our own; as many as there are concurrent calls (like Node's global agent).
        agent: new (secure ? https : http).Agent({ keepAlive: true, scheduling: 'lifo' }),
      };
      const dedupe = entry.options?.deduplicateInflightRequests !== false;
      const inflight = new Map();

      function send(executionRequest, operationType) {
        const signal = executionRequest.signal || executionRequest.info?.signal;
        if (signal?.aborted) return { errors: [abortError(signal.reason)] };
        const headers = { accept: ACCEPT, 'content-type': 'application/json' };
        let extensions = executionRequest.extensions;
        let custom = false;
        if (extensions?.headers) {
          custom = true;
          const { headers: propagated, ...rest } = extensions;
          for (const name in propagated) if (propagated[name] != null) headers[name] = propagated[name];
          extensions = rest;
        }
        const variables = executionRequest.variables;
        const body = JSON.stringify({
          query: defaultPrintFn(executionRequest.document),
          variables: variables && Object.keys(variables).length > 0 ? variables : undefined,
          operationName: executionRequest.operationName || undefined,
          extensions: extensions && Object.keys(extensions).length > 0 ? extensions : undefined,
        });
        // executor-http's key: url, method, body and (when any were propagated) the headers, without the
        // correlation id (the engine adds it in onFetch, after the key): every caller but the first gets its
        // own copy of `data`, taken before the first one's executor touches it.
        const key = dedupe && operationType === 'query'
          ? `${entry.location}|POST|${body}${custom ? `|${JSON.stringify(headers)}` : ''}`
          : null;
        const clientRequest = executionRequest.context?.request;
        if (clientRequest) {
          const id = clientRequest.headers.get('x-correlation-id') || generatedIds.get(clientRequest);
          if (id) headers['x-correlation-id'] = id;
        }
        headers['content-length'] = Buffer.byteLength(body);
        const call = {};
        if (key === null) return withTimeout(post(target, body, headers, signal, call), timeoutMs, call);

        // Each caller has its own timeout (as with the engine); a follower's does not end the shared call.
        const pending = inflight.get(key);
        if (pending) return withTimeout(new Promise((resolve) => pending.push(resolve)), timeoutMs, null);
        const followers = [];
        inflight.set(key, followers);
        const shared = post(target, body, headers, signal, call).then((result) => {
          inflight.delete(key);
          for (const resolve of followers) resolve(result?.data ? { ...result, data: structuredClone(result.data) } : result);
          return result;
        });
        return withTimeout(shared, timeoutMs, call);
      }

      function leanExecutor(executionRequest) {
        if (needsEngine(executionRequest)) return viaEngine(executionRequest);
        return send(executionRequest, operationTypeOf(executionRequest));
      }
      const dispose = () => {
        target.agent.destroy();
        return engineExecutor?.then((executor) => executor[DisposableSymbols.asyncDispose]?.());
      };
      leanExecutor[DisposableSymbols.asyncDispose] = leanExecutor[DisposableSymbols.dispose] = dispose;
      return leanExecutor;
    },
  };
}
