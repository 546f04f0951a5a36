"""Faults under load (issue 13): loopback only, bounded, stops by itself, prints figures.

    .venv/bin/python bench/faults_bench.py [--scenario all|broker|postgres|consumer|redis] [--seconds 30] [--rate 30]

Brings the whole platform up on free ports (bench/_platform.py: fresh *_faults databases, a
private broker and a PRIVATE redis-server, production-mode gateway), then for each scenario
runs an open-loop mix through the gateway (browse, product detail, categories, `me`, and
`adjustStock` writes as admin) while the fault happens:

- broker:   the broker is SIGKILLed at 1/4 of the run and restarted 4 s later (Tansu keeps
            topics in memory: what it held is gone; the outbox is then replayed from the kill
            time minus 60 s; consumers are idempotent, so replaying is safe);
- postgres: every service's PostgreSQL backends are terminated every 3 s;
- consumer: the catalog consumer is SIGKILLed mid-batch and restarted 2 s later;
- redis:    the private Redis is stopped for 3 s and started again (empty: no persistence),
            then accounts' `sync_session_registry` puts the live sessions back.

Counted end to end for each scenario: writes that succeeded, `catalog.stock.adjusted`
events recorded in the outbox, applied by the consumer (ProcessedEvent), and the read model's
`adjustments` total (must equal applied: nothing applied twice); HTTP 5xx, INTERNAL_SERVER_ERROR,
p50/p99; whether every process is still alive (recovered without a restart).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from typing import Any

from _platform import ADMIN, CUSTOMER, Load, Platform, run_load, services, wait_until

from devtools.env import service_env
from devtools.manage import manage

STOCK_ADJUSTED = "catalog.stock.adjusted"  # the domain event of adjustStock (catalog/events.py)
HANDLER_LIKE = "%count_stock_adjustment%"


def counts(platform: Platform) -> dict[str, int]:
    recorded = platform.sql("catalog", "SELECT count(*) FROM events_outboxevent WHERE event_type = %s", STOCK_ADJUSTED)[0][0]
    applied = platform.sql(
        "catalog", "SELECT count(*) FROM events_processedevent WHERE event_type = %s AND handler LIKE %s",
        STOCK_ADJUSTED, HANDLER_LIKE,
    )[0][0]
    adjustments = platform.sql("catalog", "SELECT coalesce(sum(adjustments), 0) FROM catalog_productstockactivity")[0][0]
    return {"recorded": recorded, "applied": applied, "read_model_adjustments": int(adjustments)}


def operations(platform: Platform, product_ids: list[str]) -> list[tuple[str, float, Any]]:
    admin = platform.bearer(ADMIN)
    customer = platform.bearer(CUSTOMER)
    rng = random.Random(5)

    def browse() -> tuple[dict, dict, None]:
        return {"query": "{ products(first: 20) { edges { node { id name price { amount } } } } }"}, {}, None

    def detail() -> tuple[dict, dict, None]:
        return ({"query": "query($id: ID!) { product(id: $id) { id name stockQuantity category { name } } }",
                 "variables": {"id": rng.choice(product_ids)}}, {}, None)

    def categories() -> tuple[dict, dict, None]:
        return {"query": "{ categories { id name children { id } } }"}, {}, None

    def me() -> tuple[dict, dict, None]:
        return {"query": "{ me { id email } }"}, customer(), None

    def adjusted(data: dict) -> bool:
        return bool((data.get("data") or {}).get("adjustStock"))

    def adjust() -> tuple[dict, dict, Any]:
        return ({"query": "mutation($id: ID!) { adjustStock(productId: $id, delta: 1) { product { id } } }",
                 "variables": {"id": rng.choice(product_ids)}}, admin(), adjusted)

    return [("browse", 4, browse), ("detail", 3, detail), ("categories", 1, categories), ("me", 1, me), ("adjust", 2, adjust)]


def run_scenario(platform: Platform, name: str, seconds: float, rate: float, events: list[tuple[float, Any]],
                 ops: list[tuple[str, float, Any]], after: Any = None) -> dict[str, Any]:
    before = counts(platform)
    load = Load()
    started = time.time()
    asyncio.run(run_load(platform.gateway + "/graphql", ops, rate=rate, seconds=seconds, load=load, events=events))
    writes_ok = sum(o.ok for o in load.outcomes if o.name == "adjust")

    def delta() -> dict[str, int]:
        now = counts(platform)
        return {key: now[key] - before[key] for key in now}

    drained = wait_until(lambda: delta()["applied"] >= delta()["recorded"], timeout=90)
    result: dict[str, Any] = {"scenario": name, "load": load.summary(), "writes_ok": writes_ok, "events": delta(),
                              "drained_in_90s": drained}
    if after is not None:
        result["recovery"] = after(started, before, delta)
    result["all_processes_alive"] = all(platform.alive().values())
    result["dead"] = [n for n, alive in platform.alive().items() if not alive]
    events_now = result.get("recovery", {}).get("events", result["events"])
    result["lost"] = events_now["recorded"] - events_now["applied"]
    result["applied_twice"] = events_now["read_model_adjustments"] - events_now["applied"]
    result["writes_without_event"] = writes_ok - events_now["recorded"]
    return result


def broker_fault(platform: Platform, seconds: float, rate: float, ops: Any) -> dict[str, Any]:
    marks: dict[str, float] = {}

    def kill() -> None:
        marks["killed"] = time.time()
        platform.kill("bench-broker")

    def restart() -> None:
        platform.restart_broker()
        marks["restarted"] = time.time()

    def replay(started: float, before: dict, delta: Any) -> dict[str, Any]:
        lost_before_replay = delta()["recorded"] - delta()["applied"]
        # What the memory broker forgot: publish again what was sent shortly before the kill and since.
        replayed = platform.sql(
            "catalog", "UPDATE events_outboxevent SET sent_at = NULL WHERE sent_at >= to_timestamp(%s) RETURNING 1",
            marks["killed"] - 60,
        )
        drained = wait_until(lambda: delta()["applied"] >= delta()["recorded"], timeout=120)
        return {"lost_before_replay": lost_before_replay, "replayed_rows": len(replayed), "drained": drained,
                "events": delta(), "broker_down_s": round(marks["restarted"] - marks["killed"], 1)}

    return run_scenario(platform, "broker killed + restarted", seconds, rate,
                        [(seconds / 4, kill), (seconds / 4 + 4, restart)], ops, after=replay)


def postgres_fault(platform: Platform, seconds: float, rate: float, ops: Any) -> dict[str, Any]:
    import psycopg

    databases = [platform.database(s["name"]) for s in services()]
    terminated = []

    def terminate() -> None:
        admin = os.environ.get("POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
        with psycopg.connect(admin, autocommit=True) as connection:
            rows = connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ANY(%s) AND pid <> pg_backend_pid()",
                (databases,),
            ).fetchall()
        terminated.append(len(rows))

    steps = [(at, terminate) for at in range(3, int(seconds) - 2, 3)]
    result = run_scenario(platform, "PostgreSQL backends terminated every 3 s", seconds, rate, steps, ops)
    result["backends_terminated"] = sum(terminated)
    return result


def consumer_fault(platform: Platform, seconds: float, rate: float, ops: Any) -> dict[str, Any]:
    def kill() -> None:
        platform.kill("catalog-consume")

    def restart() -> None:
        platform.supervisor.processes.pop("catalog-consume", None)
        platform.start_workers(only=["catalog-consume"])

    return run_scenario(platform, "catalog consumer SIGKILLed mid-batch", seconds, rate,
                        [(seconds / 3, kill), (seconds / 3 + 2, restart)], ops)


def redis_fault(platform: Platform, seconds: float, rate: float, ops: Any) -> dict[str, Any]:
    def stop() -> None:
        platform.stop_redis()

    def start() -> None:
        platform.start_redis()

    def resync(started: float, before: dict, delta: Any) -> dict[str, Any]:
        me = {"query": "{ me { id } }"}
        old = ops_headers["customer"]
        import httpx

        stale = httpx.post(platform.gateway + "/graphql", json=me, headers=old, timeout=30).json()
        accounts = next(s for s in services() if s["name"] == "accounts")
        code = manage(accounts, ["sync_session_registry"], check=False,
                                 env=service_env(accounts, extra=platform.env))
        again = httpx.post(platform.gateway + "/graphql", json=me, headers=old, timeout=30).json()
        return {"old_token_after_restart": (stale.get("errors") or [{}])[0].get("extensions", {}).get("code", "ok"),
                "sync_session_registry_exit": code,
                "old_token_after_sync": (again.get("errors") or [{}])[0].get("extensions", {}).get("code", "ok"),
                "events": delta()}

    ops_headers = {"customer": {"Authorization": f"Bearer {platform.token(CUSTOMER)}"}}
    return run_scenario(platform, "private Redis stopped 3 s and restarted empty", seconds, rate,
                        [(seconds / 3, stop), (seconds / 3 + 3, start)], ops, after=resync)


SCENARIOS = {"broker": broker_fault, "postgres": postgres_fault, "consumer": consumer_fault, "redis": redis_fault}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="all", choices=["all", *SCENARIOS])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=float, default=30, help="requests per second through the gateway")
    options = parser.parse_args()
    suffix = os.environ.get("DATABASE_NAME_SUFFIX", "") + "_faults"
    load_before = os.getloadavg()
    results = []
    with Platform(suffix) as platform:
        product_ids = [str(row[0]) for row in platform.sql("catalog", "SELECT id FROM catalog_product LIMIT 50")]
        ops = operations(platform, product_ids)
        # Warm-up: consumer groups joined, caches primed.
        asyncio.run(run_load(platform.gateway + "/graphql", ops, rate=10, seconds=8, load=Load()))
        wait_until(lambda: counts(platform)["applied"] >= counts(platform)["recorded"], timeout=60)
        names = list(SCENARIOS) if options.scenario == "all" else [options.scenario]
        for name in names:
            result = SCENARIOS[name](platform, options.seconds, options.rate, ops)
            print(json.dumps(result, indent=1), flush=True)
            results.append(result)
            if name == "redis":
                ops = operations(platform, product_ids)  # fresh tokens: the old sessions were resynced, not kept
    print(json.dumps({"loadavg_before": load_before, "loadavg_after": os.getloadavg(),
                      "summary": [{k: r[k] for k in ("scenario", "lost", "applied_twice", "all_processes_alive")}
                                  | {"5xx": r["load"]["http_5xx"], "ISE": r["load"]["internal_server_error"]}
                                  for r in results]}, indent=1))


if __name__ == "__main__":
    main()
