// Cheap checks on the raw HTTP request, before parsing: body size and obviously malformed headers;
// then the parsed body: any parser failure (a malformed form-encoded body threw a URIError that
// surfaced as a 500 with a Node stack) is a 400 BAD_REQUEST, and JSON variables nested deeper
// than the shared maxJsonDepth are refused. They only turn away garbage early; every subgraph
// still verifies the token and enforces the same limits itself.
import { GraphQLError } from 'graphql';

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const CART_ID = /^[A-Za-z0-9_-]{1,128}$/;
const BEARER_JWT = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/i;
const MAX_AUTHORIZATION_LENGTH = 8192;

function reject(status, code, message, headers) {
  return new GraphQLError(message, { extensions: { code, http: { status, ...(headers ? { headers } : {}) } } });
}

function tooLarge(limit) {
  return reject(413, 'REQUEST_ENTITY_TOO_LARGE', `Request body is larger than ${limit} bytes.`);
}

/** A JWT-shaped bearer token whose header names an accepted algorithm, or null. */
function wellFormedBearer(value, algorithms) {
  if (value.length > MAX_AUTHORIZATION_LENGTH) return false;
  const match = BEARER_JWT.exec(value);
  if (!match) return false;
  try {
    const header = JSON.parse(Buffer.from(match[1], 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null && algorithms.includes(header.alg);
  } catch {
    return false;
  }
}

function checkHeaders(headers, { jwtAlgorithms }) {
  const authorization = headers.get('authorization');
  if (authorization !== null && !wellFormedBearer(authorization, jwtAlgorithms)) {
    throw reject(401, 'UNAUTHENTICATED', 'Malformed Authorization header: expected "Bearer <JWT>".', {
      'WWW-Authenticate': 'Bearer error="invalid_token"',
    });
  }
  const correlationId = headers.get('x-correlation-id');
  if (correlationId !== null && !CORRELATION_ID.test(correlationId)) {
    throw reject(400, 'BAD_REQUEST', 'Malformed X-Correlation-ID header: 1-128 characters of [A-Za-z0-9._:-].');
  }
  const cartId = headers.get('x-cart-id');
  if (cartId !== null && !CART_ID.test(cartId)) {
    throw reject(400, 'BAD_REQUEST', 'Malformed X-Cart-Id header: 1-128 characters of [A-Za-z0-9_-].');
  }
}

/** Counts the bytes of a streamed body (no or lying Content-Length) and fails past the limit. */
function limitBody(request, limit, fetchAPI) {
  let seen = 0;
  const counted = request.body.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > limit) controller.error(tooLarge(limit));
        else controller.enqueue(chunk);
      },
    }),
  );
  return new fetchAPI.Request(request.url, {
    method: request.method,
    headers: request.headers,
    signal: request.signal,
    body: counted,
    duplex: 'half',
  });
}

/** Deeper than `limit` levels of arrays/objects (iterative: a hostile body cannot blow the stack). */
export function nestedDeeperThan(value, limit) {
  const stack = [[value, 1]];
  while (stack.length) {
    const [item, depth] = stack.pop();
    if (item === null || typeof item !== 'object') continue;
    if (depth > limit) return true;
    for (const child of Array.isArray(item) ? item : Object.values(item)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

function checkParams(params, maxJsonDepth) {
  for (const operation of Array.isArray(params) ? params : [params]) {
    // Before any plugin reads `params.query` (a `[null]` batch crashed the response cache's policy).
    if (operation === null || typeof operation !== 'object' || Array.isArray(operation)) {
      throw reject(400, 'BAD_REQUEST', 'Each operation must be a JSON object.');
    }
    if (nestedDeeperThan(operation.variables, maxJsonDepth) || nestedDeeperThan(operation.extensions, maxJsonDepth)) {
      throw reject(400, 'BAD_REQUEST', `JSON nested deeper than ${maxJsonDepth} levels.`);
    }
  }
  return params;
}

/** A parser failure is the client's malformed body: 400 with a GraphQL error, never the parser's message. */
function asClientError(error) {
  if (error instanceof GraphQLError && error.extensions?.http?.status && error.extensions.http.status < 500) return error;
  return reject(400, 'BAD_REQUEST', 'Malformed request body.');
}

export function useRequestGuards({ maxBodyBytes, maxJsonDepth = 64, jwtAlgorithms = ['RS256'] }) {
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      checkHeaders(request.headers, { jwtAlgorithms });
      const contentLength = request.headers.get('content-length');
      let parse = requestParser;
      if (contentLength !== null) {
        // Node's HTTP parser never reads past Content-Length, so the header alone bounds the body.
        if (!/^\d+$/.test(contentLength)) throw reject(400, 'BAD_REQUEST', 'Invalid Content-Length header.');
        if (Number(contentLength) > maxBodyBytes) throw tooLarge(maxBodyBytes);
      } else if (requestParser && request.body) {
        // Chunked upload: count the bytes as they stream in.
        parse = (incoming) => requestParser(limitBody(incoming, maxBodyBytes, fetchAPI));
      }
      if (!parse) return;
      setRequestParser(async (incoming) => {
        let params;
        try {
          params = await parse(incoming);
        } catch (error) {
          throw asClientError(error);
        }
        return checkParams(params, maxJsonDepth);
      });
    },
  };
}

/** CORS options per request: only listed origins get CORS headers; the opaque origin `null`
 * (sandboxed frames, file: pages) never does, so `Access-Control-Allow-Origin: null` is never sent. */
export function corsFor(origins, options) {
  if (!origins.length) return false;
  return (request) => {
    const origin = request.headers.get('origin');
    if (!origin || origin === 'null' || !origins.includes(origin)) return false;
    return { ...options, origin: origins };
  };
}
