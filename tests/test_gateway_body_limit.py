"""lib/engine/body-limit-hook.mjs: graphql-yoga's body-size plugin without its counting stream when the request
has a Content-Length (GATEWAY_LEAN_BODY_LIMIT), the limits unchanged. Run in node on a real yoga server; the
413s through the real gateway are in test_protections.py."""

from __future__ import annotations

import json
import subprocess

import pytest

from devtools.paths import GATEWAY_DIR

# A yoga server with a 100-byte limit; a plugin before yoga's own records the Request object the body parser
# finally gets: the very request when nothing wraps it, a new one when yoga's stream wraps it.
SCRIPT = """
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
if (process.env.HOOK === '1') register('./lib/engine/body-limit-hook.mjs', pathToFileURL('./'));
const { createYoga, createSchema } = await import('graphql-yoga');
let wrapped = null;
const yoga = createYoga({
  schema: createSchema({ typeDefs: 'type Query { hello: String }', resolvers: { Query: { hello: () => 'hi' } } }),
  maxRequestBodySize: 100,
  plugins: [{
    onRequestParse({ request, requestParser, setRequestParser }) {
      setRequestParser((req) => { wrapped = req !== request; return requestParser(req); });
    },
  }],
});
const small = JSON.stringify({ query: '{ hello }' });
const big = JSON.stringify({ query: '{ hello }', variables: { pad: 'x'.repeat(200) } });
async function post(body, headers) {
  wrapped = null;
  const init = { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } };
  const response = await yoga.fetch('http://localhost/graphql', init);
  return [response.status, wrapped];
}
function stream(text) {
  return new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(text)); c.close(); } });
}
const results = {
  sized: await post(small, { 'content-length': String(small.length) }),
  sizedTooBig: await post(big, { 'content-length': String(big.length) }),
  badLength: await post(small, { 'content-length': '1, 2' }),
  streamed: await post(stream(small), {}),
  streamedTooBig: await post(stream(big), {}),
};
console.log(JSON.stringify(results));
"""


def run(hook: bool) -> dict[str, list]:
    output = subprocess.run(["node", "--input-type=module", "-e", SCRIPT], cwd=GATEWAY_DIR, capture_output=True,
                            text=True, check=True, timeout=60, env={"PATH": "/usr/bin:/bin", "HOOK": "1" if hook else "0"})
    return json.loads(output.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("hook", [False, True])
def test_limits_are_the_same_with_and_without_the_hook(hook):
    results = run(hook)
    assert results["sized"][0] == 200
    assert results["sizedTooBig"][0] == 413
    assert results["badLength"][0] == 400
    assert results["streamed"][0] == 200
    assert results["streamedTooBig"][0] == 413


def test_the_hook_skips_the_stream_only_when_the_length_is_known():
    assert run(hook=False)["sized"][1] is True  # yoga's own plugin wraps even a sized body
    with_hook = run(hook=True)
    assert with_hook["sized"][1] is False
    assert with_hook["streamed"][1] is True  # no Content-Length: still counted
