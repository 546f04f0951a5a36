"""The shared cache machinery (common.cache) on real Redis: stampede protection, degradation when
Redis is down or hangs, a TTL on every key, counters, and the on/off switch."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from typing import Any

import pytest
import redis
from catalog import queries
from common.cache.client import breaker
from common.cache.namespaces import pending
from common.cache.readthrough import cached
from common.cache.settings import redis_caches
from common.cache.stats import counters
from common.cache.testing import PrivateRedisServer
from common.testing.net import free_port
from common.testing.polling import wait_until
from common.testing.threads import run_concurrently
from django.conf import settings

DETAIL = "query($id: ID!) { product(id: $id) { id name stockQuantity category { name } } }"
PAGE = "{ products(first: 10) { totalCount edges { node { sku category { name } } } } }"


def counts(kind_prefix: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for (layer, kind, result), value in counters.process.items():
        if layer == "data" and kind.startswith(kind_prefix):
            found[result] = found.get(result, 0) + value
    return found


# --- stampede protection ---------------------------------------------------------------------



def metrics_token(settings) -> str:
    """/metrics/ needs METRICS_TOKEN outside DEBUG (common.metrics_access)."""
    settings.METRICS_TOKEN = "test-metrics-token"
    return "test-metrics-token"

def test_cold_key_under_concurrent_load_is_computed_once():
    calls = []
    lock = threading.Lock()

    def compute() -> dict[str, int]:
        with lock:
            calls.append(1)
        time.sleep(0.3)  # long enough for every thread to miss while it runs
        return {"answer": 42}

    results = run_concurrently([lambda: cached("demo", "cold", namespaces=["demo"], compute=compute)] * 16)
    assert results == [{"answer": 42}] * 16
    assert len(calls) == 1
    assert counts("demo") == {"miss": 1, "coalesced": 15}


def test_waiters_take_over_when_the_lock_holder_fails():
    calls = []
    lock = threading.Lock()

    def compute() -> str:
        with lock:
            calls.append(1)
            first = len(calls) == 1
        time.sleep(0.1)
        if first:
            raise RuntimeError("database hiccup")
        return "value"

    results = run_concurrently([lambda: cached("demo", "flaky", namespaces=["demo"], compute=compute)] * 8)
    failures = [r for r in results if isinstance(r, RuntimeError)]
    assert len(failures) == 1  # only the caller whose computation failed sees the error
    assert results.count("value") == 7
    assert len(calls) == 2  # one waiter took the lock over at once, the others waited for it


@pytest.mark.django_db(transaction=True)
def test_cold_product_page_under_concurrent_load_hits_the_database_once(make_product, monkeypatch):
    for _ in range(15):
        make_product()
    pages_computed = []
    real_page_rows = queries._page_rows

    def slow_page_rows(*args: Any, **kwargs: Any) -> Any:
        pages_computed.append(1)
        time.sleep(0.2)
        return real_page_rows(*args, **kwargs)

    monkeypatch.setattr(queries, "_page_rows", slow_page_rows)

    def read() -> list[str]:
        page = queries.product_page(
            product_filter=queries.ProductFilter(), order=queries.ProductOrder.NAME_ASC, first=10, after=None
        )
        return [p.sku for p in page.items]

    results = run_concurrently([read] * 10)
    assert all(r == results[0] for r in results) and len(results[0]) == 10
    assert len(pages_computed) == 1, counts("product_page")


# --- TTLs and versions ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_every_key_has_a_ttl(gql, anon_gql, make_product, isolated_cache):
    products = [make_product() for _ in range(5)]
    anon_gql.data(DETAIL, {"id": str(products[0].pk)})
    anon_gql.data(PAGE)
    anon_gql.data('{ productBySku(sku: "nope") { id } categories { name } }')
    anon_gql.data(
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id } } }",
        {"r": [{"__typename": "Product", "id": str(p.pk)} for p in products]},
    )
    gql.data('mutation($id: ID!) { adjustStock(productId: $id, delta: 1) { product { id } } }', {"id": str(products[1].pk)})
    counters.flush()
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.set(f"{isolated_cache}:dc:demo:x:lock", "someone", nx=True, px=3000)  # a lock in flight
    keys = list(client.scan_iter(match=f"{isolated_cache}:*"))
    kinds = {key.decode().split(":")[1] for key in keys}
    assert {"ns", "dc", "rc", "stats"} <= kinds  # versions, values, answers, counters
    without_ttl = [key for key in keys if client.ttl(key) < 0]
    assert without_ttl == []
    value_ttls = [client.ttl(key) for key in keys if b":dc:" in key and not key.endswith(b":lock")]
    assert value_ttls and max(value_ttls) <= settings.CACHE_DATA_TTL * 1.1 + 1


@pytest.mark.django_db(transaction=True)
def test_a_lost_version_key_never_revives_old_values(gql, make_product, isolated_cache):
    """Versions are random tokens, not counters: when a version key expires (or Redis evicts it)
    the next version is new, so values stored under any earlier version are unreachable."""
    from catalog.models import Product

    product = make_product(name="Cached")
    assert gql.data(DETAIL, {"id": str(product.pk)})["product"]["name"] == "Cached"
    Product._base_manager.filter(pk=product.pk).update(name="Changed")  # bypasses the bridge: no bump
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(f"{isolated_cache}:ns:product:{product.pk}")  # as if it had expired
    assert gql.data(DETAIL, {"id": str(product.pk)})["product"]["name"] == "Changed"


# --- switches, counters, observability ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_data_cache_switch_off_reads_the_database_every_time(
    gql, make_product, settings, isolated_cache, django_assert_num_queries
):
    settings.CACHE_DATA_ENABLED = False
    settings.CACHE_RESULT_ENABLED = False
    product = make_product()
    for _ in range(3):
        with django_assert_num_queries(1):
            gql.data("query($id: ID!) { product(id: $id) { name } }", {"id": str(product.pk)})
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert list(client.scan_iter(match=f"{isolated_cache}:dc:*")) == []
    assert list(client.scan_iter(match=f"{isolated_cache}:rc:*")) == []
    # Writes still publish invalidations: other processes may have the cache on.
    assert client.exists(f"{isolated_cache}:ns:product:{product.pk}")


@pytest.mark.django_db(transaction=True)
def test_counters_move_and_are_exposed(gql, client, make_product, settings):
    settings.CACHE_RESULT_ENABLED = False  # every request reaches the data cache
    product = make_product()
    for _ in range(3):
        gql.data(DETAIL, {"id": str(product.pk)})
    gql.data(PAGE)
    gql.data(PAGE)
    metrics = client.get("/metrics/", HTTP_X_METRICS_TOKEN=metrics_token(settings))
    assert metrics.status_code == 200
    assert metrics["Content-Type"].startswith("text/plain; version=0.0.4")
    text = metrics.content.decode()

    def value(kind: str, result: str) -> int:
        labels = rf'service="[^"]+",layer="data",kind="{kind}\.[0-9a-f]+",result="{result}",source="redis"'
        pattern = rf"cache_requests_total\{{{labels}\}} (\d+)"
        match = re.search(pattern, text)
        return int(match.group(1)) if match else 0

    assert value("product", "miss") == 1
    assert value("product", "hit") == 2
    assert value("product_page", "miss") == 1
    assert value("product_page", "hit") == 1
    assert re.search(r'cache_requests_total\{[^}]*kind="product_count",result="hit"[^}]*\} 1', text)
    assert 'cache_redis_up{service="' in text and "} 1" in text
    health = client.get("/health/").json()
    assert health["status"] == "ok"
    assert health["cache"]["status"] == "ok"
    data = health["cache"]["data"]
    assert data["hits"] >= 4
    assert data["misses"] >= 3
    assert 0 < data["hit_ratio"] < 1
    assert health["cache"]["result_cache"] == "off"


# --- Redis down -------------------------------------------------------------------------------


@pytest.fixture
def private_redis(private_redis: PrivateRedisServer, settings: Any) -> PrivateRedisServer:
    """The plugin's private redis-server (common.testing.plugin), used as this test's cache."""
    settings.CACHES = redis_caches(private_redis.url)
    settings.CACHE_FAILURE_COOLDOWN = 0.2
    return private_redis


@pytest.mark.django_db(transaction=True)
def test_redis_stopped_service_answers_from_the_database(
    gql, client, make_product, private_redis, caplog, django_assert_num_queries
):
    product = make_product(name="Lamp")
    pid = str(product.pk)
    gql.data(DETAIL, {"id": pid})
    with django_assert_num_queries(0):
        gql.data(DETAIL, {"id": pid})  # warm

    private_redis.stop()
    caplog.set_level(logging.WARNING, logger="common.cache")
    for _ in range(5):
        with django_assert_num_queries(2):  # product + category tree straight from PostgreSQL
            assert gql.data(DETAIL, {"id": pid})["product"]["name"] == "Lamp"
        assert gql.data(PAGE)["products"]["totalCount"] == 1
    warnings = [r for r in caplog.records if r.name == "common.cache" and r.levelno == logging.WARNING]
    assert len(warnings) == 1  # rate-limited: one warning for the outage, not one per request
    assert "serving from the database" in warnings[0].getMessage()

    # Writes still work; their invalidation waits for Redis.
    updated = gql.data(
        'mutation($id: ID!) { updateProduct(id: $id, input: {name: "Desk Lamp"}) { product { name } } }', {"id": pid}
    )
    assert updated["updateProduct"]["product"]["name"] == "Desk Lamp"
    assert gql.data(DETAIL, {"id": pid})["product"]["name"] == "Desk Lamp"
    assert pending

    health = client.get("/health/")
    assert health.status_code == 200  # the service is healthy, its cache is degraded
    assert health.json()["cache"]["status"] == "degraded"
    metrics = client.get("/metrics/", HTTP_X_METRICS_TOKEN=metrics_token(settings))
    assert metrics.status_code == 200
    text = metrics.content.decode()
    assert 'source="process"' in text  # counted in this process while Redis is away
    assert re.search(r'cache_redis_up\{service="[^"]+"\} 0', text)
    assert counts("product").get("degraded", 0) + counts("product").get("error", 0) >= 5

    private_redis.start()  # back (empty, as after a real restart)
    wait_until(lambda: not breaker.is_open())
    assert gql.data(DETAIL, {"id": pid})["product"]["name"] == "Desk Lamp"
    wait_until(lambda: not pending)
    with django_assert_num_queries(0):
        assert gql.data(DETAIL, {"id": pid})["product"]["name"] == "Desk Lamp"  # caching again


@pytest.mark.django_db(transaction=True)
def test_invalidation_missed_during_an_outage_is_applied_before_the_next_read(gql, make_product, settings):
    """Redis unreachable for a moment but not restarted (it keeps the old values): the writer's
    bump failed, so it is retried before this process reads the cache again."""
    product = make_product(name="Old")
    pid = str(product.pk)
    assert gql.data(DETAIL, {"id": pid})["product"]["name"] == "Old"  # cached in the shared Redis
    real_caches = settings.CACHES
    settings.CACHES = redis_caches(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    gql.data('mutation($id: ID!) { updateProduct(id: $id, input: {name: "New"}) { product { id } } }', {"id": pid})
    assert pending
    settings.CACHES = real_caches
    breaker.reset()
    assert gql.data(DETAIL, {"id": pid})["product"]["name"] == "New"
    assert not pending


@pytest.mark.django_db(transaction=True)
def test_hung_redis_costs_one_timeout_per_cooldown_not_per_request(gql, make_product, settings):
    """A Redis that accepts connections but never answers: socket timeouts + the circuit breaker
    keep requests fast."""
    product = make_product()
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(64)  # the kernel completes handshakes; nobody ever reads or answers
        settings.CACHES = redis_caches(f"redis://127.0.0.1:{black_hole.getsockname()[1]}/0")
        settings.CACHE_FAILURE_COOLDOWN = 5.0
        started = time.monotonic()
        for _ in range(30):
            assert gql.data(DETAIL, {"id": str(product.pk)})["product"]["id"] == str(product.pk)
        elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"30 reads took {elapsed:.2f}s with a hung Redis"
    assert counts("product").get("degraded", 0) >= 29
