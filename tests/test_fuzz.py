"""Property-based fuzzing (issue 13) of the gateway and of every subgraph in services.json, reached
directly: anonymous and with a staff token, queries and mutations with hostile literals, operations
with hostile JSON variables, and malformed HTTP bodies. Every answer must be clean (no 5xx, no
INTERNAL_SERVER_ERROR, every error with extensions.code, no internals): common.graphql.fuzzing.
And the row counts must match what succeeded (common.testing.rows): around every example, every
table of every service database and the cart's Redis are counted; a root field that failed wrote
nothing, one that succeeded wrote exactly its EFFECTS entry, reads and malformed bodies nothing.
The workers are stopped meanwhile (they write rows too); ID arguments are often ids of rows made
here (`fodder`), so updates, deletes and cart lines succeed too.

Bounded for CI: FUZZ_EXAMPLES examples per case (default 10); bench/fuzz_bench.py runs it longer.
A new service is fuzzed by its entry in services.json alone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import graphql
import httpx
import pytest
from common.graphql import fuzzing
from common.testing import rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))
# Root fields that would end the fuzzer's own session or spend the shared login budget of 127.0.0.1
# (through the gateway every client is that address); accounts is fuzzed on them directly, from a
# documentation address in X-Forwarded-For (the e2e accounts trusts one proxy).
SESSION_ENDING = {"logout", "logoutAllSessions"}
BUDGET_SPENDING = {"login", "changePassword"}
FUZZ_CLIENT_ADDRESS = {"X-Forwarded-For": "198.51.100.77"}



def _targets() -> list[str]:
    from devtools.services import subgraphs

    return ["gateway"] + [service["name"] for service in subgraphs()]


TARGETS = _targets()


@pytest.fixture(scope="module")
def http():
    with httpx.Client(timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def urls(platform, gateway) -> dict[str, str]:
    return {"gateway": gateway.url, **platform.subgraphs}


@pytest.fixture(scope="module")
def schemas(urls, http) -> dict[str, graphql.GraphQLSchema]:
    found = {}
    for name, url in urls.items():
        body = http.post(url, json={"query": graphql.get_introspection_query()}).json()
        assert "errors" not in body, (name, body)
        found[name] = graphql.build_client_schema(body["data"])
    return found


@pytest.fixture(scope="module")
def staff_login(gateway):
    """() -> staff headers, signing in again before the 5-minute access token runs out (the module
    runs longer than that), so staff cases never quietly turn anonymous."""
    login = 'mutation { login(email: "admin@example.com", password: "Admin-demo-pass-1") { accessToken } }'
    state: dict = {"at": 0.0}

    def headers() -> dict[str, str]:
        if time.monotonic() - state["at"] > 120:
            state["headers"] = {"Authorization": f"Bearer {gateway.data(login)['login']['accessToken']}"}
            state["at"] = time.monotonic()
        return state["headers"]

    return headers


@pytest.fixture
def staff_headers(staff_login) -> dict[str, str]:
    return staff_login()


@pytest.fixture(scope="module")
def fodder(platform, staff_login) -> list[str]:
    """Ids of rows made here for the fuzzer to update and delete (rows.create_fodder)."""
    client = platform.client(**staff_login())
    ids = rows.create_fodder(client.data)
    if platform.broker is not None:  # workers running: let the cart know the products
        rows.wait_for_cart_read_model(platform.env["CART_REDIS_URL"], ids[3:])
    return ids


@pytest.fixture(scope="module")
def watch(platform, fodder) -> Iterator[rows.RowWatch]:
    from devtools.services import services

    suffix = os.environ["DATABASE_NAME_SUFFIX"]  # the session's, `_e2e` included
    databases = {s["name"]: f"postgresql://postgres@127.0.0.1:5432/{s['database']}{suffix}" for s in services()}
    redis_urls = {s["name"]: platform.env[s["redis"]["url_setting"]] for s in services() if s.get("redis")}
    with platform.workers_stopped():
        watch = rows.RowWatch(databases, redis_urls)
        yield watch
        watch.close()


def checked(watch: rows.RowWatch, document: str, send) -> dict | None:
    """Send one example and check its answer and what it wrote."""
    before = watch.snapshot()
    response = send()
    fuzzing.check_response(response)
    body = response.json() if response.text.strip() else None
    rows.check_effects(document, body, watch.changes(before))
    return body


def excluded(target: str, staff: bool) -> set[str]:
    names = set(SESSION_ENDING) if staff else set()
    if target != "accounts":
        names |= BUDGET_SPENDING
    return names


def headers_for(target: str, staff: bool, staff_headers: dict[str, str]) -> dict[str, str]:
    headers = dict(staff_headers) if staff else {}
    if target == "accounts":
        headers.update(FUZZ_CLIENT_ADDRESS)
    return headers


def test_each_kind_of_write_changes_what_its_answer_says(platform, urls, http, staff_headers, watch, fodder):
    """One known success (and a refusal) per kind of write through the gateway, so every CI run
    checks success rows too, whatever the fuzzer happens to draw."""

    def run(document: str, *, staff: bool = True, succeeds: bool = True, **variables) -> dict:
        body = checked(watch, document, lambda: fuzzing.post_document(
            http, urls["gateway"], document, variables, headers=staff_headers if staff else {}))
        assert body is not None and (("errors" not in body) == succeeds), body
        return body["data"]

    tag = os.urandom(4).hex()
    category = run("mutation($n: String!) { createCategory(input: {name: $n}) { category { id } } }",
                   n=f"Rows {tag}")["createCategory"]["category"]["id"]
    run("mutation($c: ID!) { updateCategory(id: $c, input: {name: \"Renamed\"}) { category { id } } }", c=category)
    product = run("mutation($s: String!, $c: ID!) { createProduct(input: {sku: $s, name: \"Rows\", price: \"2.50\", "
                  "stockQuantity: 5, categoryId: $c}) { product { id } } }", s=f"ROWS-{tag}", c=category)
    product_id = product["createProduct"]["product"]["id"]
    run("mutation($s: String!) { createProduct(input: {sku: $s, name: \"Again\", price: \"1\"}) { product { id } } }",
        s=f"ROWS-{tag}", succeeds=False)  # SKU taken: CONFLICT, nothing written
    run("mutation($p: ID!) { updateProduct(id: $p, input: {name: \"Rows 2\"}) { product { id } } }", p=product_id)
    run("mutation($p: ID!) { adjustStock(productId: $p, delta: 3) { product { stockQuantity } } }", p=product_id)
    run("mutation($p: ID!) { adjustStock(productId: $p, delta: -100) { product { id } } }", p=product_id, succeeds=False)
    run("mutation($c: ID!) { deleteCategory(id: $c) { deletedId } }", c=category, succeeds=False)  # in use
    run("mutation($p: ID!) { deleteProduct(id: $p) { deletedId } }", p=product_id)
    run("mutation($c: ID!) { deleteCategory(id: $c) { deletedId } }", c=category)
    run("mutation($p: ID!) { adjustStock(productId: $p, delta: 1) { product { id } } }", p=product_id, succeeds=False)
    if platform.broker is not None:  # the fodder is in the cart's read model only if the workers ran
        line = fodder[3]
        run("mutation($p: ID!) { addToCart(productId: $p, quantity: 2) { version } }", p=line)
        run("mutation($p: ID!) { addToCart(productId: $p, quantity: 2) { version } }", p=line, staff=False)  # new cart
        run("mutation($p: ID!) { updateCartItem(productId: $p, quantity: 3) { version } }", p=line)
        run("mutation($p: ID!) { updateCartItem(productId: $p, quantity: 1000) { version } }", p=line, succeeds=False)
        run("mutation($p: ID!) { removeFromCart(productId: $p) { version } }", p=line)
        run("mutation { clearCart { version } }")
    email = f"rows-{tag}@example.com"
    register = "mutation($e: String!) { register(input: {email: $e, password: \"Rows-pass-8142-x\"}) { user { email } } }"
    run(register, e=email, staff=False)
    run(register, e=email, staff=False)  # taken: the same answer, only the owner's notification event


@pytest.mark.parametrize("staff", [False, True], ids=["anonymous", "staff"])
@pytest.mark.parametrize("kind", ["query", "mutation"])
@pytest.mark.parametrize("target", TARGETS)
def test_operations_are_answered_cleanly(target, kind, staff, urls, schemas, http, staff_headers, watch, fodder):
    schema = schemas[target]
    headers = headers_for(target, staff, staff_headers)

    @FUZZ
    @given(document=fuzzing.operations(schema, kind, excluded(target, staff), ids=fodder))
    def run(document: str) -> None:
        checked(watch, document, lambda: fuzzing.post_document(http, urls[target], document, headers=headers))

    run()


@pytest.mark.parametrize("staff", [False, True], ids=["anonymous", "staff"])
@pytest.mark.parametrize("target", TARGETS)
def test_plausible_mutations_write_what_they_say(target, staff, urls, schemas, http, staff_headers, watch, fodder):
    """Arguments that commands accept (existing ids, valid strings): successes, whose rows are checked."""
    headers = headers_for(target, staff, staff_headers)

    @FUZZ
    @given(document=fuzzing.plausible_mutations(schemas[target], excluded(target, staff), ids=fodder))
    def run(document: str) -> None:
        checked(watch, document, lambda: fuzzing.post_document(http, urls[target], document, headers=headers))

    run()


@pytest.mark.parametrize("staff", [False, True], ids=["anonymous", "staff"])
@pytest.mark.parametrize("target", TARGETS)
def test_hostile_variables_are_answered_cleanly(target, staff, urls, schemas, http, staff_headers, watch, fodder):
    schema = schemas[target]
    headers = headers_for(target, staff, staff_headers)

    @FUZZ
    @given(operation=fuzzing.operations_with_variables(schema, excluded(target, staff), ids=fodder))
    def run(operation: tuple[str, dict]) -> None:
        document, variables = operation
        checked(watch, document,
                lambda: fuzzing.post_document(http, urls[target], document, variables, headers=headers))

    run()


@pytest.mark.parametrize("target", TARGETS)
def test_malformed_http_bodies_are_answered_cleanly(target, urls, http, watch):
    @FUZZ
    @given(body=fuzzing.malformed_bodies, content_type=fuzzing.content_types, method=st.sampled_from(["POST", "GET"]))
    def run(body: bytes, content_type: str, method: str) -> None:
        before = watch.snapshot()
        send(body, content_type, method)
        assert not (changes := watch.changes(before)), f"a malformed body wrote: {changes.describe()}"

    def send(body: bytes, content_type: str, method: str) -> None:
        if method == "GET":
            response = http.get(urls[target], params={"query": body.decode("latin-1")[:500]},
                                headers={"accept": "application/json"})
            if response.headers.get("content-type", "").startswith("text/html"):
                assert response.status_code == 200  # the development GraphiQL page
                return
        else:
            response = http.post(urls[target], content=body, headers={"content-type": content_type})
        fuzzing.check_response(response)

    run()


@pytest.mark.parametrize("target", TARGETS)
def test_every_mutation_has_its_effect_written_down(target, schemas):
    """The row checks need each mutation's effect: a new one fails here until it is in rows.EFFECTS."""
    assert rows.missing_effects(schemas[target]) == []
