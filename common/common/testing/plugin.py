"""pytest plugin of the shared test support: `-p common.testing.plugin` in a pytest.ini addopts.

Fixtures (Django ones resolve only in Django suites; the plugin itself imports no Django):
  graphql_client   GraphQLTestClient over pytest-django's `client`, POSTing to /graphql/
  recorded_events  OutboxLog: the outbox rows the test wrote (needs the database)
  stub_server      factory: stub_server(handle) -> StubServer, closed at teardown
  read_metrics     read_metrics(client=None) -> the /metrics/ text, scraped with a test METRICS_TOKEN (the way
                   Prometheus does: X-Metrics-Token); asserts 200
  private_redis    a redis-server of the test's own on a free port (common.cache.testing.PrivateRedisServer),
                   to stop and start; skips when redis-server is not installed. The shared Redis is never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from common.testing.graphql import GraphQLTestClient
from common.testing.stub_server import Handle, StubServer


@pytest.fixture
def graphql_client(client: Any) -> GraphQLTestClient:
    return GraphQLTestClient(client)


@pytest.fixture
def recorded_events(db: None) -> Any:
    """Every event recorded in the outbox during the test (in the same transactions as the changes)."""
    from common.testing.outbox import OutboxLog

    return OutboxLog()


@pytest.fixture
def stub_server() -> Iterator[Callable[[Handle], StubServer]]:
    with ExitStack() as stack:
        yield lambda handle, **options: stack.enter_context(StubServer(handle, **options))


@pytest.fixture
def private_redis() -> Iterator[Any]:
    from common.cache.testing import PrivateRedisServer

    try:
        server = PrivateRedisServer()
    except FileNotFoundError:
        pytest.skip("redis-server is not installed")
    server.start()
    try:
        yield server
    finally:
        server.stop()


METRICS_TEST_TOKEN = "test-metrics-token"  # noqa: S105 - a test token, not a secret


@pytest.fixture
def read_metrics(settings: Any) -> Callable[..., str]:
    """/metrics/ is behind METRICS_TOKEN outside DEBUG (common.metrics_access): scrape it as Prometheus would."""
    from django.test import Client

    settings.METRICS_TOKEN = METRICS_TEST_TOKEN

    def read(client: Any = None) -> str:
        response = (client or Client()).get("/metrics/", HTTP_X_METRICS_TOKEN=METRICS_TEST_TOKEN)
        assert response.status_code == 200, response.status_code
        return response.content.decode()

    return read
