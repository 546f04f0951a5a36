"""The gateway's lean subgraph transport (gateway/lib/transport/lean-http.mjs, GATEWAY_LEAN_TRANSPORT):
the same answers, headers, timeouts, error codes and de-duplication as the engine's own transport.

Two gateways per mode (production and development) over one supergraph whose catalog sits behind a
scriptable stub: `lean` (the default) and `engine` (GATEWAY_LEAN_TRANSPORT=0). The stub forwards to the
real catalog unless a test makes it crash, hang, drop the connection or answer garbage; every answer of
the lean gateway must equal the engine's, status and body, byte for byte after JSON decoding.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest
from common.testing.stub_server import Reply, Request, StubServer
from test_protections import FAKE_JWT

TIMEOUT_MS = 1500  # the gateways' subgraph timeout here (GATEWAY_SUBGRAPH_TIMEOUT_MS)
HOLD_SECONDS = 30  # how long a held request may wait for its release before the stub gives up

PRODUCTS_20 = "{ products(first: 20) { edges { node { id name price { amount currency } stockQuantity } } } }"

# Queries answered by the real catalog (and accounts): shapes the engine's executor and the lean transport
# must agree on. (query, variables)
DIFFERENTIAL = [
    (PRODUCTS_20, None),
    ("{ products(first: 3) { totalCount pageInfo { hasNextPage endCursor } } }", None),
    ("{ a: products(first: 2) { edges { node { id x: name } } } b: products(first: 1, orderBy: NAME_DESC) "
     "{ edges { node { sku } } } }", None),
    ("query Q($n: Int!, $with: Boolean!, $skip: Boolean!) { products(first: $n) { edges { node { ...P "
     "price @include(if: $with) { amount } stockQuantity @skip(if: $skip) } } } } "
     "fragment P on Product { id name inStock }", {"n": 4, "with": True, "skip": True}),
    ("query Q($n: Int!, $with: Boolean!) { products(first: $n) { edges { node { id price @include(if: $with) "
     "{ amount } } } } }", {"n": 2, "with": False}),
    ("query Named { categories { id name parent { id } } }", None),
    ('{ product(id: "does-not-exist") { id name } }', None),
    ('query P($id: ID!) { product(id: $id) { id } }', {"id": "UHJvZHVjdDo5OTk5OTk5"}),
    ("{ products(first: 0) { totalCount } }", None),  # BAD_USER_INPUT from the subgraph
    ("{ products(first: 2) { edges { node { id } } } me { id } }", None),  # two subgraphs, one null
    ("{ __typename products(first: 1) { __typename edges { __typename node { __typename id } } } }", None),
    ("{ products(first: 1) { edges { node { id } } } ", None),  # syntax error: never reaches a subgraph
]


@dataclass
class ScriptedSubgraph:
    """A StubServer in front of the real catalog; `behave` decides each POST's answer."""

    target: str
    behave: Callable[[Request], Reply] | None = None
    server: StubServer = field(init=False)

    def __post_init__(self) -> None:
        self.server = StubServer(self._serve, name="scripted-catalog")

    @property
    def url(self) -> str:
        return self.server.url("/graphql/")

    @property
    def posts(self) -> list[Request]:
        return [request for request in self.server.requests if request.method == "POST"]

    def forward(self, request: Request) -> Reply:
        headers = {"content-type": "application/json"}
        if request.headers.get("authorization"):
            headers["authorization"] = request.headers["authorization"]
        if request.method == "POST":
            upstream = httpx.post(self.target, content=request.body, headers=headers)
        else:
            upstream = httpx.get(httpx.URL(self.target).join(request.path))
        return Reply(upstream.status_code, upstream.content, upstream.headers.get("content-type", ""))

    def _serve(self, request: Request) -> Reply:
        if request.method == "POST" and self.behave is not None:
            return self.behave(request)
        return self.forward(request)


@pytest.fixture(scope="module")
def subgraph(platform) -> Iterator[ScriptedSubgraph]:
    stub = ScriptedSubgraph(platform.subgraphs["catalog"])
    yield stub
    stub.server.close()


@pytest.fixture(autouse=True)
def forwarding(subgraph) -> Iterator[None]:
    subgraph.behave = None
    yield
    subgraph.behave = None


@pytest.fixture(scope="module")
def gateways(platform, subgraph, tmp_path_factory) -> dict[str, str]:
    """Base URLs: prod-lean, prod-engine, dev-lean, dev-engine (response cache off: every call is a fetch)."""
    supergraph = tmp_path_factory.mktemp("transport") / "supergraph.graphql"
    catalog = platform.subgraphs["catalog"]
    supergraph.write_text(platform.supergraph.read_text().replace(f'"{catalog}"', f'"{subgraph.url}"'))
    assert subgraph.url in supergraph.read_text()
    common = {"GATEWAY_RESPONSE_CACHE": "0", "GATEWAY_SUBGRAPH_TIMEOUT_MS": str(TIMEOUT_MS)}
    urls = {}
    for production in (True, False):
        for transport, lean in (("lean", "1"), ("engine", "0")):
            name = f"{'prod' if production else 'dev'}-{transport}"
            urls[name] = platform.start_gateway(f"e2e-gateway-transport-{name}", production=production,
                                                supergraph=supergraph,
                                                extra_env={**common, "GATEWAY_LEAN_TRANSPORT": lean})
    return urls


def ask(url: str, query: str, variables: dict | None = None, **headers: str) -> tuple[int, dict]:
    response = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables or {}}, headers=headers,
                          timeout=20)
    return response.status_code, response.json()


def both(gateways: dict[str, str], mode: str, query: str, variables: dict | None = None,
         **headers: str) -> tuple[tuple[int, dict], tuple[int, dict]]:
    return ask(gateways[f"{mode}-lean"], query, variables, **headers), ask(gateways[f"{mode}-engine"], query,
                                                                            variables, **headers)


@pytest.mark.parametrize("mode", ["prod", "dev"])
@pytest.mark.parametrize(("query", "variables"), DIFFERENTIAL, ids=[f"q{i}" for i in range(len(DIFFERENTIAL))])
def test_answers_equal_the_engine_transport(gateways, mode, query, variables):
    lean, engine = both(gateways, mode, query, variables)
    assert lean == engine
    assert "data" in lean[1] or "errors" in lean[1]


def test_differential_queries_reach_the_subgraph(gateways, subgraph):
    before = len(subgraph.posts)
    status, body = ask(gateways["prod-lean"], PRODUCTS_20)
    assert status == 200 and len(body["data"]["products"]["edges"]) == 20
    assert len(subgraph.posts) == before + 1  # not answered from a cache: the comparison above means something


BROKEN = {
    "crash-500-text": lambda request: Reply(500, b"Traceback (most recent call last): secret", "text/plain"),
    "200-not-json": lambda request: Reply(200, b"<html>proxy error</html>", "text/html"),
    "200-empty": lambda request: Reply(200, b"", "application/json"),
    "200-empty-object": lambda request: Reply.json({}),
    "502-json-errors": lambda request: Reply.json({"errors": [{"message": "upstream", "extensions": {"code": "X"}}]},
                                                  status=502),
    "errors-with-code": lambda request: Reply.json(
        {"data": {"products": None}, "errors": [{"message": "Nope.", "path": ["products"],
                                                 "extensions": {"code": "FORBIDDEN"}}]}),
    "bom-json": lambda request: Reply(200, b"\xef\xbb\xbf" + b'{"data": {"products": {"totalCount": 7}}}'),
}


@pytest.mark.parametrize("mode", ["prod", "dev"])
@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_subgraph_answers_equal_the_engine_transport(gateways, subgraph, mode, case):
    subgraph.behave = BROKEN[case]
    lean, engine = both(gateways, mode, "{ products(first: 3) { totalCount } }")
    assert lean == engine
    # A subgraph's own GraphQL errors pass with their code, whatever the HTTP status; anything else is masked.
    if mode == "prod" and case not in ("errors-with-code", "bom-json", "502-json-errors"):
        assert lean[1]["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        assert lean[1]["errors"][0]["message"] == "Unexpected error."
        assert "secret" not in str(lean) and "127.0.0.1" not in str(lean)


def test_subgraph_error_codes_pass_through(gateways, subgraph):
    subgraph.behave = BROKEN["errors-with-code"]
    status, body = ask(gateways["prod-lean"], "{ products(first: 3) { totalCount } }")
    assert status == 200
    assert body["errors"] == [{"message": "Nope.", "path": ["products"],
                               "extensions": {"code": "FORBIDDEN", "serviceName": "catalog"}}]


class Dropping:
    """Closes the connection without an answer (a subgraph process that died mid-request)."""

    def __call__(self, request: Request) -> Reply:
        raise ConnectionAbortedError("dropped on purpose")


@pytest.mark.parametrize("mode", ["prod", "dev"])
def test_a_dropped_connection_answers_like_the_engine(gateways, subgraph, mode):
    subgraph.behave = Dropping()
    lean, engine = both(gateways, mode, "{ products(first: 3) { totalCount } }")
    assert lean[0] == engine[0] == 200
    assert lean[1]["data"] is None and engine[1]["data"] is None
    if mode == "prod":
        assert lean == engine
        assert lean[1]["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    else:  # the wording of a socket error is Node's (node:http vs the fetch ponyfill); the shape is the same
        assert [set(e) for e in lean[1]["errors"]] == [set(e) for e in engine[1]["errors"]]
        assert [e["extensions"]["code"] for e in lean[1]["errors"]] == [e["extensions"]["code"]
                                                                         for e in engine[1]["errors"]]


class Holding:
    """Holds every POST until `release` is set (or HOLD_SECONDS passed), then forwards it."""

    def __init__(self, subgraph: ScriptedSubgraph, *, release_after: int | None = None) -> None:
        self.subgraph = subgraph
        self.release = threading.Event()
        self.arrived = threading.Semaphore(0)
        self.count = 0
        self.lock = threading.Lock()
        self.release_after = release_after  # release everyone once this many requests are held

    def __call__(self, request: Request) -> Reply:
        with self.lock:
            self.count += 1
            if self.release_after is not None and self.count >= self.release_after:
                self.release.set()
        self.arrived.release()
        self.release.wait(HOLD_SECONDS)
        return self.subgraph.forward(request)


@pytest.mark.parametrize("transport", ["lean", "engine"])
def test_a_hung_subgraph_times_out_with_our_code(gateways, subgraph, transport):
    holding = Holding(subgraph)
    subgraph.behave = holding
    try:
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(ask, gateways[f"prod-{transport}"], "{ products(first: 3) { totalCount } }")
            assert holding.arrived.acquire(timeout=10), "the subgraph received nothing"
            status, body = answer.result(timeout=TIMEOUT_MS / 1000 + 10)  # the gateway answers, not the subgraph
    finally:
        holding.release.set()
    assert status == 504
    assert body.get("data") is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["GATEWAY_TIMEOUT"]
    assert body["errors"][0]["message"] == "The operation was aborted due to timeout"


@pytest.mark.parametrize("mode", ["prod", "dev"])
def test_timeout_answers_equal_the_engine_transport_but_name_no_address(gateways, subgraph, mode):
    # One deliberate difference: the engine's timeout error carries `request: {url, method, body}` (and
    # `serviceName`) from its onFetch hook, i.e. the subgraph's internal address; the error policy drops
    # `request`/`response` in production; the lean transport's answer has neither (docs/gateway.md).
    subgraph.behave = Holding(subgraph)
    query = "{ products(first: 3) { totalCount } }"
    try:
        with ThreadPoolExecutor(2) as pool:
            lean = pool.submit(ask, gateways[f"{mode}-lean"], query)
            engine = pool.submit(ask, gateways[f"{mode}-engine"], query)
            lean_answer, engine_answer = lean.result(timeout=30), engine.result(timeout=30)
    finally:
        subgraph.behave.release.set()
    for error in engine_answer[1]["errors"]:
        if mode == "dev":
            assert error["extensions"].pop("request")["url"] == subgraph.url  # the engine's: an internal address
        else:
            assert "request" not in error["extensions"] and "response" not in error["extensions"]
        assert error["extensions"].pop("serviceName") == "catalog"
    assert lean_answer == engine_answer
    assert lean_answer[1]["errors"][0]["extensions"] == {"code": "GATEWAY_TIMEOUT"}
    assert "127.0.0.1" not in str(lean_answer)


def test_the_headers_the_subgraph_receives_equal_the_engine_transport(gateways, subgraph):
    headers = {"Authorization": f"Bearer {FAKE_JWT}", "X-Cart-Id": uuid.uuid4().hex, "User-Agent": "e2e-shop/2.0",
               "X-Forwarded-For": "10.1.2.3", "X-Correlation-ID": f"e2e-{uuid.uuid4()}", "Cookie": "sessionid=x",
               "X-Internal-Admin": "1"}
    subgraph.behave = lambda request: Reply.json({"data": {"products": {"totalCount": 1}}})
    received = {}
    for transport in ("lean", "engine"):
        before = len(subgraph.posts)
        ask(gateways[f"prod-{transport}"], "{ products(first: 3) { totalCount } }", **headers)
        assert len(subgraph.posts) == before + 1
        received[transport] = subgraph.posts[-1]
    lean, engine = received["lean"], received["engine"]
    wanted = {"authorization", "x-cart-id", "user-agent", "x-forwarded-for", "x-correlation-id", "content-type",
              "accept"}
    assert {k: v for k, v in lean.headers.items() if k in wanted} == {k: v for k, v in engine.headers.items()
                                                                      if k in wanted}
    assert lean.headers["authorization"] == f"Bearer {FAKE_JWT}"
    assert lean.headers["x-forwarded-for"] == "10.1.2.3, 127.0.0.1"
    assert lean.headers["x-correlation-id"] == headers["X-Correlation-ID"]
    assert "cookie" not in lean.headers and "x-internal-admin" not in lean.headers
    assert lean.json() == engine.json()  # the same document, variables, operation name


def test_a_generated_correlation_id_is_forwarded(gateways, subgraph):
    subgraph.behave = lambda request: Reply.json({"data": {"products": {"totalCount": 1}}})
    response = httpx.post(f"{gateways['prod-lean']}/graphql", json={"query": "{ products(first: 3) { totalCount } }"})
    generated = response.headers["x-correlation-id"]
    assert len(generated) == 36
    assert subgraph.posts[-1].headers["x-correlation-id"] == generated


def test_without_deduplication_every_request_reaches_the_subgraph(platform, subgraph, tmp_path):
    supergraph = tmp_path / "supergraph.graphql"
    supergraph.write_text(platform.supergraph.read_text().replace(f'"{platform.subgraphs["catalog"]}"',
                                                                  f'"{subgraph.url}"'))
    url = platform.start_gateway("e2e-gateway-transport-nodedupe", production=True, supergraph=supergraph,
                                 extra_env={"GATEWAY_RESPONSE_CACHE": "0", "GATEWAY_DEDUPE_INFLIGHT": "0"})
    holding = Holding(subgraph, release_after=3)  # only released once three identical calls are held at once
    subgraph.behave = holding
    try:
        with ThreadPoolExecutor(3) as pool:
            answers = [f.result(timeout=30) for f in [pool.submit(ask, url, PRODUCTS_20) for _ in range(3)]]
    finally:
        holding.release.set()
    assert holding.count == 3
    assert answers[0] == answers[1] == answers[2] and answers[0][0] == 200


@pytest.mark.parametrize("transport", ["lean", "engine"])
def test_identical_inflight_queries_share_one_subgraph_call(gateways, subgraph, transport):
    holding = Holding(subgraph)
    subgraph.behave = holding
    url = gateways[f"prod-{transport}"]
    try:
        with ThreadPoolExecutor(3) as pool:
            first = pool.submit(ask, url, PRODUCTS_20)
            assert holding.arrived.acquire(timeout=10)
            followers = [pool.submit(ask, url, PRODUCTS_20) for _ in range(2)]
            # The followers are in flight in the gateway; a second call would arrive at the stub within
            # this window if they were not joined to the first (the negative cannot be awaited otherwise).
            assert not holding.arrived.acquire(timeout=0.5)
            holding.release.set()
            answers = [first.result(timeout=30)] + [f.result(timeout=30) for f in followers]
    finally:
        holding.release.set()
    assert holding.count == 1
    assert answers[0][0] == 200 and "errors" not in answers[0][1]
    assert answers[0] == answers[1] == answers[2]


def test_different_callers_are_not_deduplicated(gateways, subgraph):
    holding = Holding(subgraph, release_after=2)  # released only when both calls are held at once
    subgraph.behave = holding
    url = gateways["prod-lean"]
    try:
        with ThreadPoolExecutor(2) as pool:
            a = pool.submit(ask, url, PRODUCTS_20, **{"X-Cart-Id": "cart-a"})
            b = pool.submit(ask, url, PRODUCTS_20, **{"X-Cart-Id": "cart-b"})
            a.result(timeout=30), b.result(timeout=30)
    finally:
        holding.release.set()
    assert holding.count == 2
    assert {r.headers["x-cart-id"] for r in subgraph.posts[-2:]} == {"cart-a", "cart-b"}
