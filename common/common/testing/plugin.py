"""pytest plugin of the shared test support: `-p common.testing.plugin` in a pytest.ini addopts.

Fixtures (Django ones resolve only in Django suites; the plugin itself imports no Django):
  graphql_client   GraphQLTestClient over pytest-django's `client`, POSTing to /graphql/
  recorded_events  OutboxLog: the outbox rows the test wrote (needs the database)
  stub_server      factory: stub_server(handle) -> StubServer, closed at teardown
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
    servers: list[StubServer] = []

    def start(handle: Handle, **options: Any) -> StubServer:
        server = StubServer(handle, **options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
