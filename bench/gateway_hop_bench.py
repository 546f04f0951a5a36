#!/usr/bin/env python3
"""The gateway's hop on an uncached single-subgraph query, A/B: CPU per request and p50, paired rounds.

    .venv/bin/python bench/gateway_hop_bench.py [--rounds 6] [--duration 4] [--concurrency 1]
        [--variant NAME[@GATEWAY_DIR][:KEY=VALUE,KEY=VALUE]] ...

Every service under gunicorn (production settings, caches off, `_bench` databases) and one production
gateway per `--variant` over their supergraph, each with the response cache and in-flight
de-duplication off (every request crosses the hop). A variant may run another checkout's gateway
directory (`@/path/to/gateway`, e.g. a worktree of an older commit) and/or extra environment (`:K=V,...`),
e.g. `--variant main --variant old@/work/wt/x/gateway --variant nocap:GATEWAY_HEAP_MB=0`; `NODE_ARGS=...` goes on
node's command line (`--variant prof:NODE_ARGS=--cpu-prof --cpu-prof-dir=/tmp/prof`).

Every round runs wrk (keep-alive) against the catalog directly and then each gateway, in a rotating order,
so the other engineers' load hits all targets alike. For each run it reads utime+stime from /proc of the
gateway's process tree and of the catalog's (gunicorn master and workers): CPU per request moves far less
with the machine's load than latency does. Prints per target: median p50, median p99, median CPU ms per
request of the gateway and of the catalog, and the ratio to the direct row; the load average with it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _cpu import cpu_by_thread, cpu_seconds, peak_rss_mb, process_tree  # noqa: E402 - bench/_cpu.py
from common.testing.net import free_port  # noqa: E402

from devtools.bootstrap import setup  # noqa: E402
from devtools.env import production_env  # noqa: E402
from devtools.gateway import compose_supergraph, ensure_gateway_dependencies  # noqa: E402
from devtools.paths import GATEWAY_DIR, LOG_DIR  # noqa: E402
from devtools.servers import start_services  # noqa: E402
from devtools.service_redis import start_service_redis  # noqa: E402
from devtools.services import graphql_urls, services  # noqa: E402
from devtools.supervisor import Supervisor  # noqa: E402

QUERY = "query L { products(first: 20) { edges { node { id name price { amount currency } stockQuantity } } } }"


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * _UNITS[unit]


def wrk(url: str, *, concurrency: int, duration: float) -> dict[str, float]:
    script = (f'wrk.method = "POST"\nwrk.body = {json.dumps(json.dumps({"query": QUERY}))}\n'
              'wrk.headers["Content-Type"] = "application/json"\n')
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        out = subprocess.run(["wrk", "-t", "1" if concurrency == 1 else "2", "-c", str(concurrency), "-d",
                              f"{max(1, round(duration))}s", "--timeout", "10s", "--latency", "-s", handle.name, url],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(handle.name)
    percentiles = {p: _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+(?:us|ms|s))\s*$", out, re.M)}
    requests = re.search(r"(\d+) requests in", out)
    if "50" not in percentiles or not requests:
        raise SystemExit(f"could not read wrk's output:\n{out}")
    if re.search(r"Non-2xx or 3xx responses: (\d+)", out) or "Socket errors" in out:
        raise SystemExit(f"errors in the run against {url}:\n{out}")
    return {"requests": int(requests.group(1)), "p50": percentiles["50"], "p99": percentiles["99"]}


@dataclass
class Variant:
    name: str
    directory: Path
    env: dict[str, str]
    url: str = ""
    pid: int = 0
    runs: list[dict[str, float]] = field(default_factory=list)
    threads: dict[str, float] = field(default_factory=dict)  # gateway CPU seconds per thread name, all runs
    requests: int = 0


def parse_variant(text: str) -> Variant:
    match = re.fullmatch(r"([\w.-]+)(?:@([^:]+))?(?::(.*))?", text)
    if not match:
        raise SystemExit(f"bad --variant {text!r}: NAME[@GATEWAY_DIR][:KEY=VALUE,...]")
    name, directory, env = match.groups()
    pairs = dict(item.split("=", 1) for item in (env or "").split(",") if item)
    return Variant(name, Path(directory) if directory else GATEWAY_DIR, pairs)


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # loopback URL
            return response.status == 200
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per run (default 4)")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--variant", action="append", default=[], help="NAME[@GATEWAY_DIR][:KEY=VALUE,...] (repeatable)")
    parser.add_argument("--catalog-env", default="", help="extra environment for the catalog, KEY=VALUE,...")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)")
        return 2
    variants = [parse_variant(v) for v in (args.variant or ["main"])]
    os.environ["DATABASE_NAME_SUFFIX"] = os.environ.get("DATABASE_NAME_SUFFIX", "") + "_bench"
    supervisor = Supervisor()
    try:
        ensure_gateway_dependencies()
        setup(production=True)
        catalog_env = {**production_env(), "CACHE_DATA_ENABLED": "false", "CACHE_RESULT_ENABLED": "false",
                       **dict(item.split("=", 1) for item in args.catalog_env.split(",") if item)}
        # Every subgraph runs (the supergraph is the full one, as in production); only the catalog is measured.
        ports = {s["name"]: free_port() for s in services()}
        catalog_env.update(start_service_redis(
            supervisor, ports={s["name"]: free_port() for s in services() if s.get("redis")},
            data_root=Path(tempfile.mkdtemp(prefix="bench-service-redis-", dir=LOG_DIR))))
        urls = graphql_urls(start_services(supervisor, production=True, ports=ports, extra_env=catalog_env))
        direct = urls["catalog"]
        catalog_pid = supervisor.processes["catalog"].pid
        supergraph = LOG_DIR / "bench-hop-supergraph.graphql"
        compose_supergraph(urls, out=supergraph)
        for variant in variants:
            port = free_port()
            env = {**os.environ, "NODE_ENV": "production", "GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(port),
                   "GATEWAY_SUPERGRAPH": str(supergraph), "GATEWAY_RESPONSE_CACHE": "0", "GATEWAY_DEDUPE_INFLIGHT": "0",
                   **variant.env}
            node_args = env.pop("NODE_ARGS", "").split()  # e.g. --cpu-prof (not allowed in NODE_OPTIONS)
            process = supervisor.start(f"bench-hop-{variant.name}", ["node", *node_args, "start.mjs"],
                                       cwd=variant.directory, env=env)
            variant.url, variant.pid = f"http://127.0.0.1:{port}/graphql", process.pid
            supervisor.wait_ready(lambda p=port: ready(f"http://127.0.0.1:{p}/readiness"), timeout=60,
                                  what=f"gateway {variant.name}")
        direct_variant = Variant("direct", ROOT, {}, url=direct)
        targets = [direct_variant, *variants]
        for target in targets:  # warm-up (the engine plans the query once, JIT, connection pools)
            wrk(target.url, concurrency=args.concurrency, duration=2)
        catalog_pids = process_tree(catalog_pid)
        print(f"load average at the start: {load_average()}")
        print(f"{args.rounds} rounds x {len(targets)} targets, wrk c={args.concurrency}, {args.duration:g} s per run, "
              f"uncached products(first: 20)")
        for number in range(args.rounds):
            order = targets[number % len(targets):] + targets[:number % len(targets)]
            for target in order:
                gateway_pids = process_tree(target.pid) if target.pid else []
                before_gw, before_cat = cpu_seconds(gateway_pids), cpu_seconds(catalog_pids)
                before_threads = cpu_by_thread(gateway_pids)
                figures = wrk(target.url, concurrency=args.concurrency, duration=args.duration)
                after_threads = cpu_by_thread(gateway_pids)
                for name, seconds in after_threads.items():
                    target.threads[name] = target.threads.get(name, 0.0) + seconds - before_threads.get(name, 0.0)
                target.requests += figures["requests"]
                figures["gw_ms"] = (cpu_seconds(gateway_pids) - before_gw) * 1000 / figures["requests"]
                figures["cat_ms"] = (cpu_seconds(catalog_pids) - before_cat) * 1000 / figures["requests"]
                target.runs.append(figures)
            print(f"  round {number + 1}: " + ", ".join(f"{t.name} {t.runs[-1]['p50']:.2f} ms" for t in targets)
                  + f" (load {os.getloadavg()[0]:.2f})", flush=True)

        def median(target: Variant, key: str) -> float:
            return statistics.median(run[key] for run in target.runs)

        print(f"\n{'target':<16} {'p50 ms':>8} {'p99 ms':>8} {'p50 x':>7} {'+ms':>6} {'p99/p50':>7} "
              f"{'gw cpu ms/req (min..max)':>24} "
              f"{'catalog cpu ms/req':>19}   (medians of {args.rounds} runs; p50 of each run: min..max)")
        d50 = median(direct_variant, "p50")
        for target in targets:
            p50 = median(target, "p50")
            spread = f"{min(r['p50'] for r in target.runs):.2f}..{max(r['p50'] for r in target.runs):.2f}"
            cpu = [r["gw_ms"] for r in target.runs]
            gw = f"{median(target, 'gw_ms'):.2f} ({min(cpu):.2f}..{max(cpu):.2f})" if target.pid else "-"
            print(f"{target.name:<16} {p50:>8.2f} {median(target, 'p99'):>8.2f} {p50 / d50:>6.2f}x {p50 - d50:>+6.2f} "
                  f"{statistics.median(r['p99'] / r['p50'] for r in target.runs):>6.1f}x {gw:>24} "
                  f"{median(target, 'cat_ms'):>19.3f}   {spread}")
        print("gateway CPU ms per request by thread (all rounds): ")
        for target in variants:
            busy = sorted(target.threads.items(), key=lambda item: -item[1])
            print(f"  {target.name:<14} " + ", ".join(f"{name} {seconds * 1000 / target.requests:.3f}"
                                                      for name, seconds in busy if seconds > 0)
                  + f"; peak RSS {peak_rss_mb(process_tree(target.pid)):.0f} MB")
        print(f"load average at the end: {load_average()}")
        return 0
    finally:
        supervisor.stop()


if __name__ == "__main__":
    sys.exit(main())
