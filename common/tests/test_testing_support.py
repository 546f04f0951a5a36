"""The shared test support (common.testing) does what every suite relies on."""

from __future__ import annotations

import threading
import time

import pytest
from common.testing.graphql import GraphQLHttpClient
from common.testing.net import free_port, port_open
from common.testing.polling import TimedOut, eventually, wait_until
from common.testing.stub_server import Reply, StubServer
from common.testing.threads import Background, run_concurrently


def test_wait_until_returns_the_first_truthy_value_and_times_out_with_a_clear_error():
    values = iter([0, None, "", "ready"])
    assert wait_until(lambda: next(values), timeout=5, interval=0.001) == "ready"
    with pytest.raises(TimedOut, match=r"timed out after 0\.05s waiting for the moon") as caught:
        wait_until(lambda: False, timeout=0.05, what="the moon")
    assert isinstance(caught.value, AssertionError) and isinstance(caught.value, TimeoutError)


def test_eventually_retries_failed_assertions_then_reraises_the_last_one():
    attempts = []

    def check() -> int:
        attempts.append(1)
        assert len(attempts) >= 3, "not yet"
        return len(attempts)

    assert eventually(check, timeout=5, interval=0.001) == 3
    def never() -> None:
        raise AssertionError("still wrong")

    with pytest.raises(AssertionError, match="still wrong"):
        eventually(never, timeout=0.05, interval=0.01)


def test_stub_server_answers_with_the_handler_and_records_requests(stub_server):
    server = stub_server(lambda request: Reply.json({"data": {"echo": request.json()["query"]}}))
    assert port_open(server.server.server_address[1])
    with GraphQLHttpClient(server.url("/graphql/"), {"x-test": "yes"}) as client:
        assert client.data("{ hello }") == {"echo": "{ hello }"}
    [request] = server.requests
    assert (request.method, request.path, request.headers["x-test"]) == ("POST", "/graphql/", "yes")


def test_http_client_refuses_a_5xx_answer():
    with StubServer(lambda request: Reply(502, b"bad gateway", "text/plain")) as server:
        client = GraphQLHttpClient(server.url("/graphql/"))
        with pytest.raises(AssertionError, match="502"):
            client.execute("{ hello }")
        client.close()


def test_free_port_is_free():
    port = free_port()
    assert not port_open(port)


def test_run_concurrently_releases_every_call_together_and_collects_errors():
    started: list[float] = []
    lock = threading.Lock()

    def call() -> str:
        with lock:
            started.append(time.monotonic())
        time.sleep(0.05)
        return "ok"

    def boom() -> None:
        raise ValueError("boom")

    results = run_concurrently([call, call, call, boom])
    assert results[:3] == ["ok"] * 3 and isinstance(results[3], ValueError)
    assert max(started) - min(started) < 0.05  # all three were running at once


def test_background_reraises_what_the_worker_raised_on_stop():
    class Worker:
        def __init__(self) -> None:
            self.stop = threading.Event()

        def run(self) -> None:
            self.stop.wait()
            raise RuntimeError("worker failed")

    background = Background(Worker())
    with pytest.raises(RuntimeError, match="worker failed"):
        background.stop(timeout=5)
