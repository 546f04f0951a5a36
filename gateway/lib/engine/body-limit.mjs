// Stands in for graphql-yoga's plugins/request-validation/use-limit-request-body-size.js (see
// body-limit-hook.mjs): the same plugin and errors, without its per-request stream when the size is known.
//
// Yoga's plugin pipes every request body through a TransformStream that counts bytes (a WHATWG pipeThrough
// is a Node stream.pipeline with an AbortController and an AbortError DOMException at its end): ~8 % of the
// gateway's CPU per uncached request (docs/performance.md §4.3). With a valid Content-Length under the limit
// the count cannot fail: Node's HTTP parser never hands a request more body than its Content-Length says.
// Bodies without one (chunked) are still counted, exactly as yoga does. The gateway's own guard
// (lib/plugins/request-guards.mjs) enforces the smaller GATEWAY_MAX_BODY_BYTES before this one in any case.
import { createGraphQLError } from '@graphql-tools/utils';

function createRequestBodyTooLargeError() {
  return createGraphQLError('Request body too large', {
    extensions: { http: { status: 413 }, code: 'REQUEST_ENTITY_TOO_LARGE' },
  });
}

function createInvalidContentLengthError() {
  return createGraphQLError('Content-Length header is invalid.', {
    extensions: { http: { status: 400 }, code: 'BAD_REQUEST' },
  });
}

const CONTENT_LENGTH_RE = /^\d+$/;

export function limitRequestBodySize(request, limit, fetchAPI) {
  const body = request.body;
  if (!body) return request;
  const TransformStreamCtor = request.body instanceof ReadableStream ? globalThis.TransformStream : fetchAPI.TransformStream;
  let bytesRead = 0;
  const limitedBody = body.pipeThrough(
    new TransformStreamCtor({
      transform(chunk, controller) {
        bytesRead += chunk.byteLength;
        if (bytesRead > limit) {
          controller.error(createRequestBodyTooLargeError());
          return;
        }
        controller.enqueue(chunk);
      },
    }),
  );
  return new fetchAPI.Request(request.url, {
    method: request.method,
    headers: request.headers,
    signal: request.signal,
    body: limitedBody,
    duplex: 'half',
  });
}

export function useLimitRequestBodySize(limit) {
  if (limit === false) return {};
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      const contentLength = request.headers.get('content-length');
      if (contentLength != null) {
        if (!CONTENT_LENGTH_RE.test(contentLength)) throw createInvalidContentLengthError();
        if (Number(contentLength) > limit) throw createRequestBodyTooLargeError();
        return; // the parser will not get more than this many bytes: nothing to count
      }
      if (requestParser == null || request.body == null) return;
      const originalParser = requestParser;
      setRequestParser((req) => originalParser(limitRequestBodySize(req, limit, fetchAPI)));
    },
  };
}
