"""The catalog's database backend (common.db.postgresql): the per-request health check asks PostgreSQL
nothing while the connection is quiet, and still replaces a connection whose backend was terminated
before the request uses it; and the list query is prepared after a few runs (server-side binding)."""

from __future__ import annotations

import os
import select

import psycopg
import pytest
from common.db.postgresql import base as backend
from common.testing.polling import wait_until
from django.db import connection, connections
from django.db.backends.postgresql.base import DatabaseWrapper as DjangoWrapper

# Outside a test transaction: the health check only skips the query for an idle connection.
pytestmark = pytest.mark.django_db(transaction=True)

LIST = "{ products(first: 5) { edges { node { id name price { amount currency } stockQuantity } } } }"


def _round_trip_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = DjangoWrapper.is_usable

    def recording(self: DjangoWrapper) -> bool:
        calls.append(1)
        return original(self)

    monkeypatch.setattr(DjangoWrapper, "is_usable", recording)
    return calls


def _next_request_check() -> None:
    # What Django does at the start of a request that reuses a persistent connection.
    connection.health_check_done = False
    connection.close_if_health_check_failed()


def test_the_engine_is_in_use() -> None:
    assert isinstance(connections["default"], backend.DatabaseWrapper)
    assert connection.health_check_enabled


def test_a_quiet_connection_is_reused_without_select_1(monkeypatch: pytest.MonkeyPatch) -> None:
    checks = _round_trip_checks(monkeypatch)
    connection.ensure_connection()
    before = connection.connection
    for _ in range(3):
        _next_request_check()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 2")
    assert connection.connection is before
    assert checks == []


def test_a_terminated_backend_is_replaced_before_the_request_uses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    checks = _round_trip_checks(monkeypatch)
    connection.ensure_connection()
    old = connection.connection
    pid = old.info.backend_pid
    admin = os.environ.get("POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    with psycopg.connect(admin, autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)
    # The server's goodbye reaches the socket (loopback: at once; polled with a deadline, never slept).
    wait_until(lambda: bool(select.select([old.pgconn.socket], [], [], 0)[0]), timeout=10, what="the FATAL message")
    _next_request_check()
    assert checks == [1], "the socket showed trouble: Django's own check must have decided"
    with connection.cursor() as cursor:  # a fresh connection: the request does not fail
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
    assert connection.connection is not old


def test_a_connection_in_a_transaction_is_checked_by_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    checks = _round_trip_checks(monkeypatch)
    connection.ensure_connection()
    connection.connection.execute("BEGIN")
    try:
        assert connection.is_usable()
        assert checks == [1]
    finally:
        connection.connection.execute("ROLLBACK")


def test_the_list_query_is_prepared(client, settings) -> None:
    settings.CACHE_DATA_ENABLED = False  # every request runs the SQL
    settings.CACHE_RESULT_ENABLED = False
    connection.close()
    for _ in range(7):
        answer = client.post("/graphql/", {"query": LIST}, content_type="application/json").json()
        assert "errors" not in answer, answer
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any('FROM "catalog_product"' in statement and "ORDER BY" in statement for statement in prepared), prepared


def test_timestamps_are_decoded_as_djangos_loader_does(make_product) -> None:
    from datetime import UTC, datetime, timedelta

    from django.db.backends.postgresql.psycopg_any import BaseTzLoader
    from psycopg.pq import Format

    product = make_product()
    connection.ensure_connection()
    oid = connection.connection.adapters.types["timestamptz"].oid
    loader = connection.connection.adapters.get_loader(oid, Format.TEXT)
    assert loader.__module__ == backend.__name__ and loader.timezone is UTC
    values = [datetime(2026, 12, 1, 19, 15, 36, 955810, tzinfo=UTC), datetime(1999, 1, 1, tzinfo=UTC),
              datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC) + timedelta(microseconds=1), product.created_at]
    with connection.cursor() as cursor:
        cursor.execute("SELECT unnest(%s::timestamptz[])", [values])
        fast = [row[0] for row in cursor.fetchall()]
        class Django(BaseTzLoader):
            timezone = UTC

        cursor.cursor.adapters.register_loader("timestamptz", Django)  # Django's own, on this cursor only
        cursor.execute("SELECT unnest(%s::timestamptz[])", [values])
        slow = [row[0] for row in cursor.fetchall()]
    assert fast == slow == values
    assert all(a.tzinfo is b.tzinfo is UTC for a, b in zip(fast, slow, strict=True))
