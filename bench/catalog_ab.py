#!/usr/bin/env python3
"""The catalog's uncached list over HTTP, this checkout against a base revision, in interleaved rounds.

    .venv/bin/python bench/catalog_ab.py [--base main] [--rounds 4] [--duration 4] [--concurrency 1 10]

Starts two catalogs under gunicorn (deploy/gunicorn.conf.py, production settings, every cache off): the
base revision's code (`git archive`, run with this checkout's .venv) and this checkout's, each on its own
copy of the seeded bench database (`catalog<suffix>_bench`, copied for the base), reached directly. Then
wrk alternates between them, list(20) and list(100) at each concurrency: A B A B ..., so the other
engineers' load hits both alike. Per side: p50 / p99 (median of rounds) and the CPU per request of the
gunicorn processes and of their PostgreSQL backends (/proc, whole rounds), which the load moves less.
Needs `wrk`, and the bench database (made by bench/read_path_bench.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common.testing.net import free_port, port_open  # noqa: E402
from read_path_bench import LIST_20, LIST_100, load_average, post, wrk  # noqa: E402

from devtools.env import production_env  # noqa: E402
from devtools.supervisor import Supervisor  # noqa: E402

ADMIN_URL = os.environ.get("POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _clock(pid: int) -> float:
    """utime + stime of a process, ms."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def _tree(master: int) -> list[int]:
    pids = [master]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rpartition(")")[2].split()[1]) == master:
                    pids.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return pids


def _backends(database: str) -> list[int]:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        return [row[0] for row in connection.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [database])]


def _copy_database(source: str, target: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        # A template must have no other session: end the bench's idle ones first (ours only, by database).
        connection.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [source])
        connection.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')


def _extract(revision: str, into: Path) -> Path:
    archive = into / "base.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), revision, "catalog_project", "common", "deploy"],
                   check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "base", filter="data")
    return into / "base"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="main", help="git revision to compare with (default main)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per side and round")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10])
    args = parser.parse_args()
    suffix = os.environ.get("DATABASE_NAME_SUFFIX", "") + "_bench"
    database = f"catalog{suffix}"
    _copy_database(database, f"{database}_base")
    work = Path(tempfile.mkdtemp(prefix="catalog-ab-"))
    base = _extract(args.base, work)
    env = {**os.environ, **production_env(), "CACHE_DATA_ENABLED": "false", "CACHE_RESULT_ENABLED": "false",
           "DJANGO_SETTINGS_MODULE": "catalog_project.settings.prod", "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "WARNING"}
    sides = {
        "base": (base, {"DATABASE_NAME_SUFFIX": suffix + "_base", "PYTHONPATH": f"{base / 'common'}:{base / 'catalog_project'}"}),
        "this": (ROOT, {"DATABASE_NAME_SUFFIX": suffix}),
    }
    supervisor = Supervisor()
    try:
        urls, masters = {}, {}
        for name, (tree, extra) in sides.items():
            port = free_port()
            command = [str(ROOT / ".venv" / "bin" / "gunicorn"), "catalog_project.wsgi:application", "--config",
                       str(tree / "deploy" / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}"]
            masters[name] = supervisor.start(f"catalog-ab-{name}", command, cwd=tree / "catalog_project",
                                             env={**env, **extra}).pid
            urls[name] = f"http://127.0.0.1:{port}/graphql/"
        for name, url in urls.items():
            port = int(url.split(":")[2].split("/")[0])
            supervisor.wait_ready(lambda p=port: port_open(p), timeout=90, what=f"catalog ({name})")
        for url in urls.values():
            answer = post(url, LIST_20)
            assert "errors" not in answer and len(answer["data"]["products"]["edges"]) == 20, answer
        short = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.base], capture_output=True, text=True)
        print(f"base {args.base} ({short.stdout.strip()}) vs this checkout; load average at the start: {load_average()}",
              flush=True)
        cells: dict[tuple[str, int, str], dict[str, list[float]]] = {}
        for size, query in ((20, LIST_20), (100, LIST_100)):
            for concurrency in args.concurrency:
                for url in urls.values():  # warm-up: connections, prepared statements
                    wrk(url, {"query": query}, headers={}, concurrency=concurrency, duration=1)
                for _ in range(args.rounds):
                    for name, url in urls.items():
                        processes = _tree(masters[name])
                        db = f"{database}_base" if name == "base" else database
                        cpu = sum(_clock(p) for p in processes)
                        server = {p: _clock(p) for p in _backends(db)}
                        figures = wrk(url, {"query": query}, headers={}, concurrency=concurrency, duration=args.duration)
                        requests = figures["rps"] * max(1, round(args.duration))
                        cell = cells.setdefault((name, concurrency, str(size)), {"p50": [], "p99": [], "cpu": [], "pg": []})
                        cell["p50"].append(figures["p50"])
                        cell["p99"].append(figures["p99"])
                        cell["cpu"].append((sum(_clock(p) for p in processes) - cpu) / requests)
                        # Backends opened during the round count from zero.
                        cell["pg"].append(sum(_clock(p) - server.get(p, 0.0) for p in _backends(db)) / requests)
                        if figures["non_2xx"] or figures["socket_errors"]:
                            print(f"  !! {name} list({size}) c={concurrency}: {figures['non_2xx']} non-2xx, "
                                  f"{figures['socket_errors']} socket errors")
                print(f"  measured list({size}) c={concurrency}, load {load_average()}", flush=True)
        print(f"\nwrk keep-alive, {args.rounds} alternating rounds x {args.duration:g} s per side; medians of rounds; "
              "CPU = gunicorn master + workers, PG = their PostgreSQL backends, per request")
        print(f"{'':<22}" + "".join(f" | {'c=' + str(c):<5} p50 ms  p99 ms  p99/p50  CPU ms  PG ms" for c in args.concurrency))
        for size in ("20", "100"):
            for name in sides:
                line = f"list({size:>3}) {name:<11}"
                for c in args.concurrency:
                    cell = {k: statistics.median(v) for k, v in cells[(name, c, size)].items()}
                    line += (f" | {'':<5}{cell['p50']:>6.2f} {cell['p99']:>7.2f} {cell['p99'] / cell['p50']:>7.1f}x "
                             f"{cell['cpu']:>6.2f} {cell['pg']:>6.2f}")
                print(line)
            ratios = []
            for c in args.concurrency:
                before, after = (statistics.median(cells[(n, c, size)]["p50"]) for n in ("base", "this"))
                cpu_before, cpu_after = (statistics.median(cells[(n, c, size)]["cpu"]) for n in ("base", "this"))
                ratios.append(f"c={c}: p50 {after / before:.2f}x, CPU {cpu_after / cpu_before:.2f}x")
            print(f"  list({size}) this/base: " + ", ".join(ratios))
        print(f"load average at the end: {load_average()}")
        print(json.dumps({f"{n}|{c}|{s}": {k: round(statistics.median(v), 3) for k, v in cell.items()}
                          for (n, c, s), cell in cells.items()}))
        return 0
    finally:
        supervisor.stop()


if __name__ == "__main__":
    sys.exit(main())
