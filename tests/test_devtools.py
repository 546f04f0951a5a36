"""devtools pieces that need no running system: discovery, workers' command lines, junit counting."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools import servers, services, testrunner


def test_select_keeps_services_json_order_and_refuses_unknown_names():
    names = services.service_names()
    assert [s["name"] for s in services.select(None)] == names
    assert [s["name"] for s in services.select(list(reversed(names[:2])))] == names[:2]
    with pytest.raises(ValueError, match=r"not in services\.json: nosuch"):
        services.select(["nosuch"])


def test_every_subgraph_has_a_graphql_url_from_its_base_url():
    bases = {s["name"]: f"http://127.0.0.1:{9000 + i}" for i, s in enumerate(services.services())}
    urls = services.graphql_urls(bases)
    assert set(urls) == {s["name"] for s in services.subgraphs()}
    for service in services.subgraphs():
        assert urls[service["name"]] == bases[service["name"]] + service["graphql_path"]


class RecordingSupervisor:
    def __init__(self) -> None:
        self.started: dict[str, list[str]] = {}

    def start(self, name: str, command: list[str], **kwargs: object) -> None:
        self.started[name] = command


def test_a_worker_is_a_manage_py_command_line(monkeypatch):
    config = [{"name": "shop", "project": "shop_project", "settings": "shop_project.settings",
               "workers": ["relay_outbox", "expire_pending_orders --loop"]}]
    monkeypatch.setattr(servers, "services", lambda: config)
    supervisor = RecordingSupervisor()
    servers.start_workers(supervisor, broker="127.0.0.1:1", production=False)  # type: ignore[arg-type]
    assert {name: command[1:] for name, command in supervisor.started.items()} == {
        "shop-relay_outbox": ["manage.py", "relay_outbox"],
        "shop-expire_pending_orders": ["manage.py", "expire_pending_orders", "--loop"],
    }


def test_junit_counts_failures_errors_and_skips(tmp_path: Path):
    report = tmp_path / "junit.xml"
    report.write_text('<testsuites><testsuite tests="10" failures="1" errors="2" skipped="3"/></testsuites>')
    assert testrunner.junit_counts(report) == (4, 3, 3)
    assert testrunner.junit_counts(tmp_path / "missing.xml") == (0, 0, 0)


def test_leading_suite_names_pick_suites_and_the_rest_goes_to_pytest():
    every = testrunner.suites()
    assert testrunner.select_suites([]) == (every, [])
    assert testrunner.select_suites(["-k", "catalog"]) == (every, ["-k", "catalog"])
    picked, rest = testrunner.select_suites(["cross-service", "catalog", "-x", "common"])
    assert [name for name, _ in picked] == ["catalog", "cross-service"]  # in the runner's order
    assert rest == ["-x", "common"]  # only leading names select


def test_the_runner_runs_common_then_each_service_then_the_cross_service_tests():
    names = [name for name, _ in testrunner.suites()]
    assert names == ["common", *services.service_names(), "cross-service"]
