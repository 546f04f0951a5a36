#!/usr/bin/env python3
"""The catalog's uncached read path, in process: list(20) and list(100) through Django, graphene and SQL
with every cache off (no HTTP, gunicorn or load generator), timed and optionally profiled with py-spy.

    .venv/bin/python bench/profile_catalog.py [--requests 2000] [--profile out.txt] [--top 40]
    .venv/bin/python bench/profile_catalog.py --compare [--rounds 8] [--requests 200]

--compare measures variants of the same process in interleaved rounds (A B C A B C ...), so the other
engineers' load hits every variant alike: CPU time of the serving thread per request, CPU of its
PostgreSQL backend per request, and p50, per variant. The variants switch what can be switched at run
time: `before` = graphql-core's per-field path (the execution context without the leaf shortcuts), Django's
`SELECT 1` health check before every request's first query, client-side parameter binding; then each of
these back to the configured one (`after` = as configured). The other changes of docs/performance.md §2
(compiled page SQL, C timestamp loader, named-tuple edges) are in every variant: bench/catalog_ab.py
compares whole revisions. --instructions runs before/after under callgrind (instructions per request).

Uses the catalog database of the benches (`catalog<suffix>_bench`, seeded by bench/read_path_bench.py or
`DATABASE_NAME_SUFFIX=<suffix>_bench python3 manage_all.py setup`). With --profile it runs itself under
`py-spy record` (raw collapsed stacks in the given file) and prints the frames with the most samples,
by own time and by time including callees.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "catalog_project"
QUERY = "query L {{ products(first: {n}) {{ edges {{ node {{ id name price {{ amount currency }} stockQuantity }} }} }} }}"


def environment() -> dict[str, str]:
    env = dict(os.environ)
    suffix = env.get("DATABASE_NAME_SUFFIX", "")
    if not suffix.endswith("_bench"):
        env["DATABASE_NAME_SUFFIX"] = suffix + "_bench"
    env.update({
        "DJANGO_SETTINGS_MODULE": "catalog_project.settings.prod",
        "DJANGO_SECRET_KEY": env.get("DJANGO_SECRET_KEY", "bench-only-secret-key-" + "x" * 40),
        "CACHE_DATA_ENABLED": "false",
        "CACHE_RESULT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
    })
    return env


def run(requests: int, compare: bool = False, rounds: int = 8) -> None:
    sys.path.insert(0, str(PROJECT))
    os.chdir(PROJECT)
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()

    def call(body: bytes) -> float:
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": "/graphql/", "SCRIPT_NAME": "", "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1", "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http",
        }
        status: list[str] = []
        started = time.perf_counter()
        response = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
        elapsed = (time.perf_counter() - started) * 1000
        if not status[0].startswith("200") or b'"errors"' in response:
            raise SystemExit(f"request failed: {response[:300]!r}")
        return elapsed

    if compare:
        return run_compare(call, requests, rounds)
    for size in (20, 100):
        body = json.dumps({"query": QUERY.format(n=size)}).encode()
        for _ in range(50):
            call(body)
        cpu = time.process_time()
        latencies = [call(body) for _ in range(requests if size == 20 else max(1, requests // 4))]
        cpu_ms = (time.process_time() - cpu) * 1000 / len(latencies)
        print(f"list({size:>3}) uncached, in process: p50 {statistics.median(latencies):.2f} ms, "
              f"mean {statistics.fmean(latencies):.2f} ms, CPU {cpu_ms:.2f} ms/request ({len(latencies)} requests)",
              flush=True)


def _variants() -> dict[str, Any]:
    """name -> function that switches the running app to that variant."""
    from common.graphql import execution
    from django.db import connections
    from django.db.backends.postgresql.base import DatabaseWrapper as Django
    from django.urls import resolve
    from graphql import ExecutionContext

    connection = connections["default"]  # the wrapper of this thread, not the proxy

    class PerFieldContext(ExecutionContext):  # the context before the leaf shortcuts: awaitable checks off only
        is_awaitable = staticmethod(execution._never_awaitable)

    initkwargs = resolve("/graphql/").func.view_initkwargs  # as_view's kwargs, read at every request
    configured = {
        "class": initkwargs.get("execution_context_class"),
        "health": connection.settings_dict["CONN_HEALTH_CHECKS"],
        "options": dict(connection.settings_dict["OPTIONS"]),
        "is_usable": type(connection).is_usable,
    }
    def variant(context_class: Any, *, round_trip_check: bool, options: dict[str, Any] | None = None) -> Any:
        def switch() -> None:
            initkwargs["execution_context_class"] = context_class
            # Django's own check (SELECT 1 before each request's first query), or the configured one.
            type(connection).is_usable = Django.is_usable if round_trip_check else configured["is_usable"]
            wanted = configured["options"] if options is None else options
            if connection.settings_dict["OPTIONS"] != wanted:  # binding is chosen at connect time
                connection.close()
                connection.settings_dict["OPTIONS"] = dict(wanted)
        return switch

    plain = {k: v for k, v in configured["options"].items() if k not in ("server_side_binding", "prepare_threshold")}
    return {
        "before": variant(PerFieldContext, round_trip_check=True, options=plain),
        "+ leaf shortcuts": variant(configured["class"], round_trip_check=True, options=plain),
        "+ quiet check": variant(configured["class"], round_trip_check=False, options=plain),
        "after": variant(configured["class"], round_trip_check=False),  # + server-side binding, prepared
    }


def _backend_cpu_ms() -> float:
    """CPU time so far of this thread's PostgreSQL backend (same machine): the server's share of a request."""
    from django.db import connections

    pid = connections["default"].connection.info.backend_pid
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def _instructions_mark() -> None:
    """Under callgrind: dump (and zero) the instruction counters here; a no-op otherwise."""
    if os.environ.get("PROFILE_CATALOG_CALLGRIND"):
        subprocess.run(["callgrind_control", "--dump", str(os.getpid())], check=True, capture_output=True)


def run_compare(call: Any, requests: int, rounds: int) -> None:
    variants = _variants()
    if os.environ.get("PROFILE_CATALOG_CALLGRIND"):
        variants = {name: variants[name] for name in ("before", "after")}
    for size in (20, 100):
        body = json.dumps({"query": QUERY.format(n=size)}).encode()
        per_round = requests if size == 20 else max(1, requests // 4)
        cpu: dict[str, list[float]] = {name: [] for name in variants}
        server: dict[str, list[float]] = {name: [] for name in variants}
        wall: dict[str, list[float]] = {name: [] for name in variants}
        for switch in variants.values():
            switch()
            for _ in range(30):
                call(body)
        for _ in range(rounds):
            for name, switch in variants.items():
                switch()
                for _ in range(5):  # a reconnect, statements to prepare: not part of the figures
                    call(body)
                _instructions_mark()
                print(f"mark {size} {name}", flush=True)
                started, backend = time.thread_time(), _backend_cpu_ms()
                wall[name].extend(call(body) for _ in range(per_round))
                cpu[name].append((time.thread_time() - started) * 1000 / per_round)
                server[name].append((_backend_cpu_ms() - backend) / per_round)
                _instructions_mark()
                print(f"mark {size} -", flush=True)
        print(f"list({size:>3}), {rounds} interleaved rounds x {per_round} requests, load "
              f"{' / '.join(f'{x:.2f}' for x in os.getloadavg())}:", flush=True)
        base = statistics.median(cpu["before"])
        for name in variants:
            median_cpu = statistics.median(cpu[name])
            print(f"  {name:<16} CPU {median_cpu:6.3f} ms/request (median of rounds; min {min(cpu[name]):.3f}) "
                  f"{median_cpu / base:5.2f}x   PostgreSQL backend {statistics.fmean(server[name]):5.3f} ms   "
                  f"p50 {statistics.median(wall[name]):6.2f} ms", flush=True)


def instructions(requests: int, rounds: int) -> None:
    """--compare's before/after under callgrind: instructions per request, which the load does not move."""
    out = Path(tempfile.mkdtemp(prefix="profile-catalog-callgrind-"))
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.out", "--dump-instr=no",
               sys.executable, __file__, "--child", "--compare", "--requests", str(requests), "--rounds", str(rounds)]
    env = {**environment(), "PROFILE_CATALOG_CALLGRIND": "1", "PYTHONHASHSEED": "0"}
    child = subprocess.run(command, env=env, capture_output=True, text=True)
    if child.returncode:
        raise SystemExit(f"the run under callgrind failed:\n{child.stderr[-3000:]}")
    marks = child.stdout
    labels = [line.split(" ", 2)[1:] for line in marks.splitlines() if line.startswith("mark ")]
    dumps = sorted(out.glob("cg.out.*"), key=lambda p: int(p.name.rsplit(".", 1)[1]))
    totals: dict[tuple[str, str], list[int]] = collections.defaultdict(list)
    # Dump n holds the instructions since dump n-1: those between a "mark <size> <name>" and the next mark.
    for (size, name), dump in zip(labels, dumps[1:], strict=False):
        if name == "-":
            continue
        ir = int(re.search(r"^summary:\s+(\d+)", dump.read_text(), re.M).group(1))
        totals[(size, name)].append(ir)
    print(f"instructions per request (callgrind, {rounds} interleaved rounds; the catalog process only):")
    for size in ("20", "100"):
        per_round = requests if size == "20" else max(1, requests // 4)
        figures = {name: statistics.median(irs) / per_round for (s, name), irs in totals.items() if s == size}
        for name, value in figures.items():
            print(f"  list({size:>3}) {name:<8} {value / 1e6:7.2f} M   {value / figures['before']:5.2f}x")


def summarize(raw: Path, top: int) -> None:
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        samples += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            total[frame] += int(count)
    print(f"\n{samples} samples. Frames by own time:")
    for frame, count in own.most_common(top):
        print(f"  {100 * count / samples:5.1f} %  {frame}")
    print("\nFrames by time including callees:")
    for frame, count in total.most_common(top):
        print(f"  {100 * count / samples:5.1f} %  {frame}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", type=Path, help="record with py-spy into this file (raw collapsed stacks)")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--compare", action="store_true", help="interleaved rounds of before/after variants")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--instructions", action="store_true",
                        help="with --compare: before/after in instructions per request under callgrind (slow)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run(args.requests, args.compare, args.rounds)
        return 0
    print(f"load average: {' / '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    if args.compare and args.instructions:
        instructions(args.requests, args.rounds)
        return 0
    command = [sys.executable, __file__, "--child", "--requests", str(args.requests), "--rounds", str(args.rounds)]
    if args.compare:
        command.append("--compare")
    if args.profile:
        spy = Path(sys.executable).with_name("py-spy")
        command = [str(spy), "record", "--rate", "500", "--format", "raw", "--output", str(args.profile), "--", *command]
    subprocess.run(command, env=environment(), check=True)
    if args.profile:
        summarize(args.profile, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
