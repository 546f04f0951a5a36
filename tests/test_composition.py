"""Supergraph composition from the subgraphs listed in services.json, and a gateway that refuses bad ones."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from common.testing.net import free_port
from common.testing.stub_server import Reply, StubServer

from devtools.paths import GATEWAY_DIR as GATEWAY
from devtools.services import subgraphs


def compose(*args: str, cwd: Path = GATEWAY) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["node", "compose.mjs", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_composes_every_subgraph_listed_in_services_json(platform, tmp_path):
    out = tmp_path / "supergraph.graphql"
    result = compose(*[f"--url={name}={url}" for name, url in platform.subgraphs.items()], f"--out={out}")
    assert result.returncode == 0, result.stderr
    sdl = out.read_text()
    listed = [s["name"] for s in subgraphs()]
    assert listed, "services.json lists no subgraph"
    for name in listed:
        assert f'@join__graph(name: "{name}", url: "{platform.subgraphs[name]}")' in sdl
    assert "type Product" in sdl and "type Category" in sdl
    assert "@listSize" in sdl  # demand-control hints survive composition
    assert sdl == platform.supergraph.read_text()  # the running gateway serves the same graph


def stub_subgraph(sdl: str) -> StubServer:
    """Answers every request with a fixed `_service { sdl }`, to make composition fail on purpose."""
    return StubServer(lambda request: Reply.json({"data": {"_service": {"sdl": sdl}}}), name="stub-subgraph")


BROKEN_SDL = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])
type Query { product(id: ID!): Product }
type Product @key(fields: "doesNotExist") { id: ID! }
"""


def other_subgraphs(platform, *, besides: str) -> list[str]:
    """--url arguments for the real subgraphs other than `besides`."""
    return [f"--url={name}={url}" for name, url in platform.subgraphs.items() if name != besides]


def test_composition_error_is_printed_and_nothing_is_written(platform, tmp_path):
    out = tmp_path / "supergraph.graphql"
    out.write_text("previous")
    with stub_subgraph(BROKEN_SDL) as stub:
        result = compose(f"--url=catalog={stub.url('/graphql/')}", *other_subgraphs(platform, besides="catalog"), f"--out={out}")
    assert result.returncode == 1
    assert "composition FAILED" in result.stderr
    assert "doesNotExist" in result.stderr
    assert "[KEY_INVALID_FIELDS] [catalog]" in result.stderr  # each error names its code and subgraph
    assert out.read_text() == "previous"


def test_unreachable_subgraph_fails_with_a_clear_message(platform, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}/graphql/"  # nothing listens there
    others = other_subgraphs(platform, besides="catalog")
    result = compose(f"--url=catalog={dead}", *others, f"--out={tmp_path / 'x.graphql'}", "--wait=1")
    assert result.returncode == 2
    assert 'subgraph "catalog"' in result.stderr and "ECONNREFUSED" in result.stderr
    assert not (tmp_path / "x.graphql").exists()


def test_unknown_subgraph_name_is_refused(tmp_path):
    result = compose("--url=nosuch=http://127.0.0.1:1/", f"--out={tmp_path / 'x.graphql'}")
    assert result.returncode == 2
    assert "not a subgraph in services.json: nosuch" in result.stderr


@pytest.mark.parametrize(
    "content",
    [None, "", "type Query { hello: String }", "not graphql at all {{{"],
    ids=["missing", "empty", "plain-schema", "garbage"],
)
def test_gateway_refuses_to_start_without_a_valid_supergraph(tmp_path, content):
    path = tmp_path / "supergraph.graphql"
    if content is not None:
        path.write_text(content)
    env = {**os.environ, "GATEWAY_SUPERGRAPH": str(path), "GATEWAY_PORT": str(free_port()), "NODE_ENV": "production"}
    result = subprocess.run(["node", "start.mjs"], cwd=GATEWAY, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert "refusing to start" in result.stderr
    assert "manage_all.py compose" in result.stderr
