"""The cart's own Redis: durability (AOF) and outages; health; migrations in step with models."""

from __future__ import annotations

import time
from io import StringIO

import pytest
from cart import store
from django.core.management import call_command
from django.test import Client

from tests.conftest import ADD, CART, CLEAR, MERGE


def test_every_acknowledged_cart_survives_sigterm_and_then_sigkill(gql, product, own_redis, tokens):
    lamp = product(stock_quantity=1000)
    carts = {}
    for round_ in range(2):
        for _ in range(10):
            cart = gql.data(ADD, {"p": lamp, "q": 3})["addToCart"]
            carts[cart["id"]] = cart
        user = tokens.mint()
        cart = gql.as_token(user.token).data(ADD, {"p": lamp, "q": 2})["addToCart"]
        carts[cart["id"]] = cart
        if round_ == 0:
            own_redis.stop()  # SIGTERM: redis-server fsyncs the AOF on the way out
        else:
            # SIGKILL: no goodbye. appendfsync everysec fsyncs once a second, so what was
            # acknowledged more than a second before the crash is on disk (docs/cart.md).
            time.sleep(1.5)
            own_redis.kill()
        own_redis.start()
        for cart_id, cart in carts.items():
            assert store.client().hgetall(store.cart_key(cart_id))["version"] == str(cart["version"]), cart_id
            if cart_id.startswith("anon-"):
                assert gql.with_cart(cart_id).data(CART)["cart"] == cart
        assert len(store.client().xrange(store.outbox_stream())) == len(carts)  # their events survived too


def test_cart_redis_down_is_a_clean_service_unavailable_error(gql, product, own_redis, tokens):
    lamp = product()
    cart_id = gql.data(ADD, {"p": lamp, "q": 1})["addToCart"]["id"]
    own_redis.stop()
    client = gql.with_cart(cart_id)
    user = gql.as_token(tokens.mint().token)
    for who, query, variables in ((client, CART, {}), (client, ADD, {"p": lamp, "q": 1}), (client, CLEAR, {}),
                                  (user, MERGE, {"c": cart_id})):
        error = who.error(query, variables)
        assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE"}, error
        assert "Traceback" not in str(error)
    response = Client().get("/health/")
    assert response.status_code == 503 and response.json()["checks"]["cart_redis"]["status"] == "error"
    own_redis.start()
    assert gql.with_cart(cart_id).data(CART)["cart"]["items"][0]["quantity"] == 1


def test_a_socket_failing_under_redis_py_is_service_unavailable_not_an_internal_error(gql, product, monkeypatch):
    """Seen under load: a connection's socket failed during connect (EBADF) and redis-py's buffer raised
    "I/O operation on closed file" from it; that is the store's outage, never INTERNAL_SERVER_ERROR."""
    lamp = product()

    def broken_socket(*args, **kwargs):
        try:
            raise OSError(9, "Bad file descriptor")
        except OSError:
            raise ValueError("I/O operation on closed file.")  # as redis-py raises it, in the OSError's handler

    monkeypatch.setattr(store.redis.client.Pipeline, "watch", broken_socket)
    error = gql.error(ADD, {"p": lamp, "q": 1})
    assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE"}, error
    monkeypatch.setattr(store.redis.client.Pipeline, "watch", lambda *a, **k: (_ for _ in ()).throw(OSError(9, "EBADF")))
    assert gql.code(ADD, {"p": lamp, "q": 1}) == "SERVICE_UNAVAILABLE"


def test_threads_asking_for_the_cart_client_at_once_share_one(settings, monkeypatch):
    from common.testing.threads import run_concurrently

    real_from_url = store.redis.Redis.from_url

    def slow_from_url(*args, **kwargs):  # widens the window a worker's first requests race in
        time.sleep(0.05)
        return real_from_url(*args, **kwargs)

    monkeypatch.setattr(store.redis.Redis, "from_url", slow_from_url)
    settings.CART_REDIS_URL = settings.CART_REDIS_URL.rstrip("/") + "?client_name=race"  # a URL no client has yet
    clients = run_concurrently([store.client] * 8)
    assert all(found is clients[0] for found in clients), clients


@pytest.mark.django_db
def test_health_checks_the_cart_redis_and_the_database():
    body = Client().get("/health/").json()
    assert body["status"] == "ok" and set(body["checks"]) == {"database", "cart_redis"}


@pytest.mark.django_db
def test_migrations_are_in_step_with_the_models():
    call_command("makemigrations", "--check", "--dry-run", stdout=StringIO())


@pytest.mark.django_db
def test_no_cart_data_in_sql():
    from django.db import connection

    tables = connection.introspection.table_names()
    assert not [table for table in tables if table.startswith("cart_")]


def test_metrics_show_the_outbox_stream_backlog(gql, product, read_metrics):
    lamp = product()
    gql.data(ADD, {"p": lamp, "q": 1})
    gql.data(ADD, {"p": lamp, "q": 1})
    body = read_metrics()
    assert 'events_outbox_pending{service="cart"} 2' in body
    assert "# TYPE events_relay_published_total counter" in body and "# TYPE events_consumer_lag gauge" in body
