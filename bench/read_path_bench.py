#!/usr/bin/env python3
"""The read path of issue 15 with wrk (keep-alive): anonymous and signed-in shoppers, through the gateway
and directly on the catalog, cached and uncached, at c=1 and c=10, with p99/p50 for every row.

    .venv/bin/python bench/read_path_bench.py [--duration 10] [--concurrency 1 10] [--rows anon-gw,...]

Starts every service under gunicorn (deploy/gunicorn.conf.py, production settings, `_bench` databases,
seeded), a second catalog with its caches off, and production gateways on free loopback ports:
`gateway` (response cache on, the default), `gateway-uncached` (response cache and in-flight
de-duplication off, over the uncached catalog: the pure hop). A customer signs in through accounts
(seeded demo user). wrk runs each cell for --duration seconds on the same 2 shared cores; the load
average is printed with every table. Needs `wrk` (Debian package).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _cpu import cpu_seconds, process_tree  # noqa: E402 - bench/_cpu.py
from common.testing.net import free_port  # noqa: E402

from devtools.bootstrap import setup  # noqa: E402
from devtools.env import production_env  # noqa: E402
from devtools.gateway import compose_supergraph, ensure_gateway_dependencies, start_gateway  # noqa: E402
from devtools.paths import LOG_DIR  # noqa: E402
from devtools.servers import start_services  # noqa: E402
from devtools.service_redis import start_service_redis  # noqa: E402
from devtools.services import graphql_urls, services, subgraphs  # noqa: E402
from devtools.supervisor import Supervisor  # noqa: E402

LIST_20 = "query L { products(first: 20) { edges { node { id name price { amount currency } stockQuantity } } } }"
LIST_100 = "query L { products(first: 100) { edges { node { id name price { amount currency } stockQuantity } } } }"
LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }"
CUSTOMER = ("customer@example.com", "Customer-demo-pass-1")  # seeded by seed_accounts

# name -> (target, query, signed in)
ROWS: dict[str, tuple[str, str, bool]] = {
    "anon-gw": ("gateway", LIST_20, False),
    "anon-direct": ("catalog", LIST_20, False),
    "signed-gw": ("gateway", LIST_20, True),
    "signed-direct": ("catalog", LIST_20, True),
    "uncached-direct-20": ("catalog-uncached", LIST_20, False),
    "uncached-direct-100": ("catalog-uncached", LIST_100, False),
    "uncached-gw-20": ("gateway-uncached", LIST_20, False),
    "uncached-gw-100": ("gateway-uncached", LIST_100, False),
}
LABELS = {
    "anon-gw": "anonymous, gateway (response cache)",
    "anon-direct": "anonymous, catalog direct",
    "signed-gw": "signed-in customer, gateway",
    "signed-direct": "signed-in customer, catalog direct",
    "uncached-direct-20": "uncached list(20), catalog direct",
    "uncached-direct-100": "uncached list(100), catalog direct",
    "uncached-gw-20": "uncached list(20), gateway (no rc, no dedup)",
    "uncached-gw-100": "uncached list(100), gateway (no rc, no dedup)",
}


def post(url: str, query: str, variables: dict | None = None, headers: dict[str, str] | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(url, body, {"content-type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.load(response)


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


@dataclass
class Platform:
    urls: dict[str, str]  # target name -> GraphQL URL
    gateway_base: str
    catalog_pids: list[int]
    pids: dict[str, int]  # target name -> root pid of its process (the gateways, the catalogs)


def start_platform(supervisor: Supervisor, extra: Supervisor, *,
                   gateway_env: dict[str, str] | None = None, uncached: bool = True) -> Platform:
    ensure_gateway_dependencies()
    setup(production=True)
    ports = {s["name"]: free_port() for s in services()}
    env = {**production_env()}
    if "accounts" in ports:
        env["AUTH_JWKS_URL"] = f"http://127.0.0.1:{ports['accounts']}/.well-known/jwks.json"
    # Services that keep their data in a Redis of their own (the cart) get one on a free port.
    env.update(start_service_redis(supervisor, ports={s["name"]: free_port() for s in services() if s.get("redis")},
                                   data_root=Path(tempfile.mkdtemp(prefix="bench-service-redis-", dir=LOG_DIR))))
    base = start_services(supervisor, production=True, ports=ports, extra_env=env)
    subgraph_urls = graphql_urls(base)
    urls = {"catalog": subgraph_urls["catalog"]}
    supergraph = LOG_DIR / "bench-read-supergraph.graphql"
    compose_supergraph(subgraph_urls, out=supergraph)
    gateway = start_gateway(supervisor, port=free_port(), production=True, supergraph=supergraph,
                                       name="bench-read-gateway", extra_env=gateway_env)
    urls["gateway"] = gateway + "/graphql"
    if uncached:
        cold = start_services(extra, production=True, ports={"catalog": free_port()}, only=["catalog"],
                                         extra_env={**env, "CACHE_DATA_ENABLED": "false", "CACHE_RESULT_ENABLED": "false"})
        path = next(s["graphql_path"] for s in subgraphs() if s["name"] == "catalog")
        urls["catalog-uncached"] = cold["catalog"] + path
        cold_supergraph = LOG_DIR / "bench-read-supergraph-cold.graphql"
        compose_supergraph({**subgraph_urls, "catalog": urls["catalog-uncached"]}, out=cold_supergraph)
        hop = start_gateway(
            supervisor, port=free_port(), production=True, supergraph=cold_supergraph, name="bench-read-gateway-hop",
            extra_env={"GATEWAY_RESPONSE_CACHE": "0", "GATEWAY_DEDUPE_INFLIGHT": "0", **(gateway_env or {})})
        urls["gateway-uncached"] = hop + "/graphql"
    pids = [p.pid for name, p in supervisor.processes.items() if name == "catalog"]
    roots = {"gateway": supervisor.processes["bench-read-gateway"].pid, "catalog": supervisor.processes["catalog"].pid}
    if uncached:
        roots["gateway-uncached"] = supervisor.processes["bench-read-gateway-hop"].pid
        roots["catalog-uncached"] = extra.processes["catalog"].pid
    return Platform(urls, gateway, pids, roots)


# The catalog behind each target (whose CPU per request is read with the gateway's).
BEHIND = {"gateway": "catalog", "gateway-uncached": "catalog-uncached", "catalog": "catalog",
          "catalog-uncached": "catalog-uncached"}


def customer_token(gateway_url: str) -> str:
    return post(gateway_url, LOGIN, {"e": CUSTOMER[0], "p": CUSTOMER[1]})["data"]["login"]["accessToken"]


@dataclass
class Cell:
    row: str
    concurrency: int
    rps: float
    p50: float
    p99: float
    non_2xx: int
    socket_errors: int
    gateway_cpu: float | None = None  # ms of gateway CPU per request (utime + stime, /proc), None for direct rows
    catalog_cpu: float | None = None  # ms of the catalog's CPU per request (gunicorn master and workers)

    @property
    def tail(self) -> float:
        return self.p99 / self.p50 if self.p50 else float("nan")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * _UNITS[unit]


def wrk(url: str, body: dict, *, headers: dict[str, str], concurrency: int, duration: float) -> dict[str, float]:
    lua_headers = "".join(f'wrk.headers["{k}"] = {json.dumps(v)}\n' for k, v in headers.items())
    script = (f'wrk.method = "POST"\nwrk.body = {json.dumps(json.dumps(body))}\n'
              f'wrk.headers["Content-Type"] = "application/json"\n{lua_headers}')
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        threads = 1 if concurrency == 1 else 2
        out = subprocess.run(["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{max(1, round(duration))}s", "--latency",
                              "-s", handle.name, url], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(handle.name)
    percentiles = {p: _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+(?:us|ms|s))\s*$", out, re.M)}
    if "50" not in percentiles or "99" not in percentiles:
        raise SystemExit(f"could not read wrk's output:\n{out}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": percentiles["50"],
        "p99": percentiles["99"],
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0,
    }


def measure(platform: Platform, rows: list[str], concurrencies: list[int], duration: float, token: str | None) -> list[Cell]:
    cells = []
    for row in rows:
        target, query, signed_in = ROWS[row]
        if target not in platform.urls or (signed_in and token is None):
            print(f"  {row}: skipped ({'no accounts service' if signed_in else 'target not started'})")
            continue
        url = platform.urls[target]
        headers = {"Authorization": f"Bearer {token}"} if signed_in else {}
        answer = post(url, query, headers=headers)  # checks the answer and warms the caches
        assert "errors" not in answer and answer["data"]["products"]["edges"], answer
        for concurrency in concurrencies:
            wrk(url, {"query": query}, headers=headers, concurrency=concurrency, duration=1)  # warm-up
            gateway_pids = process_tree(platform.pids[target]) if target.startswith("gateway") else []
            catalog_pids = process_tree(platform.pids[BEHIND[target]])
            before = cpu_seconds(gateway_pids), cpu_seconds(catalog_pids)
            figures = wrk(url, {"query": query}, headers=headers, concurrency=concurrency, duration=duration)
            per_request = 1000 / max(1, figures["requests"])
            gateway_cpu = (cpu_seconds(gateway_pids) - before[0]) * per_request if gateway_pids else None
            cells.append(Cell(row, concurrency, figures["rps"], figures["p50"], figures["p99"],
                              int(figures["non_2xx"]), int(figures["socket_errors"]), gateway_cpu,
                              (cpu_seconds(catalog_pids) - before[1]) * per_request))
            print(f"  measured {row} c={concurrency}: {figures['rps']:.0f} req/s", flush=True)
    return cells


def print_table(cells: list[Cell], concurrencies: list[int]) -> None:
    header = f"{'request':<46}" + "".join(f" | c={c} rps   p50 ms   p99 ms  p99/p50" for c in concurrencies)
    print(header)
    by_row: dict[str, dict[int, Cell]] = {}
    for cell in cells:
        by_row.setdefault(cell.row, {})[cell.concurrency] = cell
    for row, by_c in by_row.items():
        line = f"{LABELS[row]:<46}"
        for c in concurrencies:
            cell = by_c.get(c)
            line += (f" | {cell.rps:>9.0f} {cell.p50:>8.2f} {cell.p99:>8.2f} {cell.tail:>7.1f}x" if cell else " | " + " " * 37)
        print(line)
    failures = [c for c in cells if c.non_2xx or c.socket_errors]
    for cell in failures:
        print(f"  !! {cell.row} c={cell.concurrency}: {cell.non_2xx} non-2xx, {cell.socket_errors} socket errors")
    ratios = []
    for c in concurrencies:
        direct, hop = by_row.get("uncached-direct-20", {}).get(c), by_row.get("uncached-gw-20", {}).get(c)
        if direct and hop:
            ratios.append(f"c={c}: {hop.p50 / direct.p50:.2f}x (+{hop.p50 - direct.p50:.2f} ms)")
    if ratios:
        print("gateway over subgraph p50, uncached list(20) (target <= 1.30x): " + ", ".join(ratios))
    print("CPU ms per request (utime + stime from /proc; the machine's load moves it less than latency):")
    for row, by_c in by_row.items():
        print(f"  {LABELS[row]:<44}" + "".join(
            f" | c={c}: " + (f"gateway {cell.gateway_cpu:.2f} + " if cell.gateway_cpu is not None else "")
            + f"catalog {cell.catalog_cpu:.2f}" for c, cell in sorted(by_c.items()) if cell.catalog_cpu is not None))
    tails = [f"{c.row} c={c.concurrency} {c.tail:.1f}x" for c in cells if c.concurrency >= 10 and c.tail > 5]
    print("p99/p50 > 5x at c>=10: " + (", ".join(tails) if tails else "none"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per cell (default 10)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma list of {', '.join(ROWS)}")
    parser.add_argument("--hold", type=float, default=0,
                        help="start the platform, print its URLs and a customer token as JSON, keep it up this many "
                             "seconds, then stop (for wrk, py-spy or a soak by hand)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)")
        return 2
    rows = [r for r in args.rows.split(",") if r]
    unknown = set(rows) - set(ROWS)
    if unknown:
        parser.error(f"unknown rows: {', '.join(sorted(unknown))}")
    os.environ["DATABASE_NAME_SUFFIX"] = os.environ.get("DATABASE_NAME_SUFFIX", "") + "_bench"
    supervisor, extra = Supervisor(), Supervisor()
    try:
        platform = start_platform(supervisor, extra, uncached=any(ROWS[r][0].endswith("uncached") for r in rows))
        token = customer_token(platform.urls["gateway"]) if any(s["name"] == "accounts" for s in services()) else None
        if args.hold:
            gateway_pid = supervisor.processes["bench-read-gateway"].pid
            print(json.dumps({"urls": platform.urls, "token": token, "gateway_pid": gateway_pid}), flush=True)
            import time

            time.sleep(args.hold)
            return 0
        knobs = {name: os.environ.get(f"GUNICORN_{name.upper()}", "default") for name in ("workers", "worker_class", "threads")}
        print(f"load average at the start: {load_average()}; gunicorn {knobs}")
        cells = measure(platform, rows, args.concurrency, args.duration, token)
        print(f"\nwrk, keep-alive, {args.duration:g} s per cell, products(first: N) {{ edges {{ node {{ id name price "
              "{ amount currency } stockQuantity } } } }")
        print_table(cells, args.concurrency)
        print(f"load average at the end: {load_average()}")
        return 0
    finally:
        extra.stop()
        supervisor.stop()


if __name__ == "__main__":
    sys.exit(main())
