#!/usr/bin/env python3
"""Gateway memory under a long, varied load: RSS and heap every chunk until --requests have been served.

    .venv/bin/python bench/gateway_soak.py [--requests 250000] [--chunk 10] [--concurrency 10]

Starts the services under gunicorn and one production gateway (response cache on) like
bench/read_path_bench.py, then runs wrk in chunks of --chunk seconds with a Lua script that sends a
mix like a shop's: list pages with variables (page sizes, orders, search terms, price filters), product
details (unknown ids answer null), `me` + products with a customer's token (half the requests carry it),
and 5 % of clients that inline their values (a new document almost every time, so the document,
validation and plan caches must stay bounded). After every chunk it reads the gateway's `/health` (`memory`:
RSS, V8 heap) and prints the growth. Target (issue 15): steady RSS <= 300 MB after ~250k requests.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from read_path_bench import customer_token, load_average, start_platform  # noqa: E402

from devtools.supervisor import Supervisor  # noqa: E402

LUA = r"""
local words = {"lamp", "chair", "desk", "oak", "steel", "blue", "mini", "pro", "set", "table", "light", "sofa"}
local orders = {"NAME_ASC", "NAME_DESC", "PRICE_ASC", "PRICE_DESC", "NEWEST", "OLDEST"}
local sizes = {10, 20, 50}
local token = "%s"
local list = "query List($first: Int, $order: ProductOrderBy, $filter: ProductFilterInput) { "
  .. "products(first: $first, orderBy: $order, filter: $filter) { "
  .. "edges { node { id name price { amount currency } inStock } } pageInfo { endCursor } } }"
local detail = "query Product($id: ID!) { product(id: $id) { id name description price { amount currency } stockQuantity } }"
local mine = "query Mine($first: Int) { me { id email } products(first: $first) { edges { node { id name } } } }"
request = function()
  local headers = {["Content-Type"] = "application/json"}
  if token ~= "" and math.random() < 0.5 then headers["Authorization"] = "Bearer " .. token end
  local r = math.random()
  local body
  if r < 0.05 then
    -- a client that inlines its values: a new document almost every time (bounded caches must cope)
    body = string.format('{"query": "{ products(first: %%d, filter: {search: \\"%%s%%d\\"}) { edges { node { id } } } }"}',
      math.random(1, 100), words[math.random(#words)], math.random(0, 9999))
  elseif r < 0.10 and headers["Authorization"] then
    body = string.format('{"query": "%%s", "variables": {"first": %%d}}', mine, sizes[math.random(#sizes)])
  elseif r < 0.25 then
    body = string.format('{"query": "%%s", "variables": {"id": "00000000-0000-4000-8000-%%012d"}}', detail, math.random(0, 999))
  else
    local filter = "null"
    local f = math.random()
    if f < 0.4 then
      filter = string.format('{"search": "%%s"}', words[math.random(#words)])
    elseif f < 0.6 then
      filter = string.format('{"minPrice": "%%d"}', math.random(1, 50) * 10)
    end
    body = string.format('{"query": "%%s", "variables": {"first": %%d, "order": "%%s", "filter": %%s}}',
      list, sizes[math.random(#sizes)], orders[math.random(#orders)], filter)
  end
  return wrk.format("POST", nil, headers, body)
end
"""


def health(base: str) -> dict:
    with urllib.request.urlopen(f"{base}/health", timeout=10) as response:
        return json.load(response)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=250_000)
    parser.add_argument("--chunk", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    os.environ["DATABASE_NAME_SUFFIX"] = os.environ.get("DATABASE_NAME_SUFFIX", "") + "_bench"
    supervisor, extra = Supervisor(), Supervisor()
    try:
        platform = start_platform(supervisor, extra, uncached=False)
        base = platform.gateway_base
        token = customer_token(platform.urls["gateway"])
        print(f"load average at the start: {load_average()}")
        start = health(base)["memory"]
        print(f"gateway at {base}; NODE_OPTIONS={os.environ.get('NODE_OPTIONS', '')!r}; memory at start: {start}")
        print(f"{'requests':>9} {'req/s':>7} {'rss MB':>7} {'heap used':>9} {'heap total':>10} {'rc hit ratio':>12}")
        served, samples, started = 0, [], time.monotonic()
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(LUA % token)
        try:
            while served < args.requests:
                if time.monotonic() - started > 240:  # access tokens live 5 minutes
                    token = customer_token(platform.urls["gateway"])
                    Path(script.name).write_text(LUA % token)
                    started = time.monotonic()
                out = subprocess.run(["wrk", "-t", "2", "-c", str(args.concurrency), "-d", f"{args.chunk}s", "-s",
                                      script.name, platform.urls["gateway"]], capture_output=True, text=True,
                                     check=True).stdout
                served += int(re.search(r"(\d+) requests in", out).group(1))
                rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
                figures = health(base)
                memory, cache = figures["memory"], figures["responseCache"]
                samples.append(memory["rssMb"])
                print(f"{served:>9} {rps:>7.0f} {memory['rssMb']:>7} {memory['heapUsedMb']:>9} "
                      f"{memory['heapTotalMb']:>10} {cache.get('hitRatio') or 0:>12.3f}", flush=True)
        finally:
            os.unlink(script.name)
        tail = samples[len(samples) // 2:]
        print(f"\nRSS over the second half of the run: min {min(tail)} / max {max(tail)} MB "
              f"(start {start['rssMb']} MB, peak {max(samples)} MB) after {served} requests; target <= 300 MB")
        print(f"load average at the end: {load_average()}")
        return 0
    finally:
        extra.stop()
        supervisor.stop()


if __name__ == "__main__":
    sys.exit(main())
