#!/usr/bin/env python3
"""The catalog's uncached read path, in process: list(20) and list(100) through Django, graphene and SQL
with every cache off (no HTTP, gunicorn or load generator), timed and optionally profiled with py-spy.

    .venv/bin/python bench/profile_catalog.py [--requests 2000] [--profile out.txt] [--top 40]

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
import statistics
import subprocess
import sys
import time
from pathlib import Path

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


def run(requests: int) -> None:
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
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run(args.requests)
        return 0
    print(f"load average: {' / '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    command = [sys.executable, __file__, "--child", "--requests", str(args.requests)]
    if args.profile:
        spy = Path(sys.executable).with_name("py-spy")
        command = [str(spy), "record", "--rate", "500", "--format", "raw", "--output", str(args.profile), "--", *command]
    subprocess.run(command, env=environment(), check=True)
    if args.profile:
        summarize(args.profile, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
