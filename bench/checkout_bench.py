#!/usr/bin/env python3
"""End-to-end checkouts through the gateway: add to cart -> placeOrder -> CONFIRMED seen.

    .venv/bin/python bench/checkout_bench.py [--concurrency 1 10 50] [--checkouts 30 150 300]

One run starts the platform in production mode (gunicorn, production settings, `_bench` databases,
a Tansu broker, every worker of services.json, a production gateway), registers one customer per
client and, per concurrency level, gives each client a loop of checkouts of one unit of a product
whose stock covers 80 % of the checkouts (so the saga also rejects). A cart line is added through
the cart service's `addToCart` when services.json has a cart, else by publishing the cart.cart
event the cart service would publish. Printed per level: confirmed checkouts/s, p50/p95/p99 of
placement -> CONFIRMED as the client saw it (polling `order` every --poll-ms, 50 ms) and as the orders
database recorded it (history timestamps), and the oversell count (units confirmed beyond the
stock, must be 0), with the machine's load average. The load generator shares the 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

sys.path.insert(0, str(ROOT / "bench"))

from _platform import SyncGateway, start_production_platform  # noqa: E402 - services, workers, gateway as `up` starts them

import devtools.services as discovery  # noqa: E402
from devtools.supervisor import Supervisor  # noqa: E402

ADD_TO_CART = "mutation($id: ID!) { addToCart(productId: $id, quantity: 1) { version } }"
CLEAR_CART = "mutation { clearCart { version } }"


@dataclass
class Level:
    concurrency: int
    checkouts: int
    stock: int
    seconds: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)
    client_ms: list[float] = field(default_factory=list)
    place_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    errors: int = 0
    final_stock: int = 0

    @property
    def confirmed(self) -> int:
        return self.outcomes.get("CONFIRMED", 0)

    confirmed_units: int = 0

    @property
    def oversold(self) -> int:
        return max(0, self.confirmed_units - self.stock) + max(0, -self.final_stock)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def start_platform(supervisor: Supervisor, broker: object) -> tuple[str, str]:
    platform = start_production_platform(supervisor, broker=broker.bootstrap_servers, name="bench-checkout-gateway",
                                         gateway_env={"GATEWAY_RESPONSE_CACHE": "0"})
    return platform.gateway, broker.bootstrap_servers


class Client:
    def __init__(self, http: object, url: str, token: str) -> None:
        self.http, self.url, self.headers = http, url, {"Authorization": f"Bearer {token}"}

    async def call(self, query: str, variables: dict | None = None) -> dict:
        response = await self.http.post(self.url, json={"query": query, "variables": variables or {}}, headers=self.headers)
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(body["errors"][0].get("message"))
        return body["data"]


async def run_level(url: str, kafka: str, users: list[dict], manager_token: str, level: Level, use_cart: bool,
                    poll_seconds: float) -> None:
    import httpx
    from shopping import ORDER, PLACE, Carts, OrdersDatabase, create_product, stock_of

    sync_gateway = SyncGateway(url)
    product_id = create_product(sync_gateway, manager_token, stock=level.stock, price="9.00")
    orders_db = OrdersDatabase()
    deadline = time.monotonic() + 60
    while not orders_db.has_product(product_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    carts = None if use_cart else Carts(kafka)
    remaining = level.checkouts
    placed_ids: list[str] = []
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=level.concurrency + 10)) as http:

        async def shopper(user: dict) -> None:
            nonlocal remaining
            client = Client(http, url, user["token"])
            while remaining > 0:
                remaining -= 1
                try:
                    if use_cart:
                        version = (await client.call(ADD_TO_CART, {"id": product_id}))["addToCart"]["version"]
                    else:
                        version = carts.put(user["id"], {product_id: 1})
                    placed = time.perf_counter()
                    order = (await client.call(PLACE, {"key": uuid.uuid4().hex, "address": _ADDRESS,
                                                       "version": version}))["placeOrder"]["order"]
                    placed_ids.append(order["id"])
                    level.place_ms.append((time.perf_counter() - placed) * 1000)
                    status = order["status"]
                    while status == "PENDING":
                        await asyncio.sleep(poll_seconds)
                        status = (await client.call(ORDER, {"id": order["id"]}))["order"]["status"]
                    level.client_ms.append((time.perf_counter() - placed) * 1000)
                    level.outcomes[status] = level.outcomes.get(status, 0) + 1
                    if use_cart:
                        # Start the next checkout from an empty cart (a rejected order leaves its line;
                        # a confirmed one is dropped by the cart's consumer, maybe not yet).
                        with contextlib.suppress(RuntimeError):
                            await client.call(CLEAR_CART)
                except Exception as exc:
                    level.errors += 1
                    if level.errors <= 3:
                        print(f"  error: {exc}", flush=True)

        if use_cart:  # wait until the cart's product read model has the product too
            probe = Client(http, url, users[0]["token"])
            deadline = time.monotonic() + 60
            while True:
                try:
                    await probe.call(ADD_TO_CART, {"id": product_id})
                    await probe.call(CLEAR_CART)
                    break
                except RuntimeError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.2)
        started = time.perf_counter()
        await asyncio.gather(*(shopper(user) for user in users[: level.concurrency]))
        level.seconds = time.perf_counter() - started
    level.final_stock = stock_of(sync_gateway, manager_token, product_id)
    rows = orders_db.connection.execute(
        "SELECT extract(epoch FROM (e.at - o.created_at)) * 1000 FROM orders_order o JOIN orders_orderevent e "
        "ON e.order_id = o.id AND e.from_status = 'PENDING' WHERE o.id = ANY(%s::uuid[])", [placed_ids]).fetchall()
    level.server_ms = [float(row[0]) for row in rows]
    level.confirmed_units = orders_db.connection.execute(
        "SELECT coalesce(sum(l.quantity), 0) FROM orders_orderline l JOIN orders_order o ON o.id = l.order_id "
        "WHERE o.id = ANY(%s::uuid[]) AND o.status = 'CONFIRMED'", [placed_ids]).fetchone()[0]
    orders_db.close()
    if carts:
        carts.close()
    sync_gateway.close()


_ADDRESS = {"name": "Bench Shopper", "line1": "1 Load St", "city": "Berlin", "postalCode": "10115", "country": "DE"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--checkouts", type=int, nargs="+", default=[30, 150, 300])
    parser.add_argument("--poll-ms", type=float, default=50, help="How often a client asks for its order's status.")
    args = parser.parse_args()
    os.environ["DATABASE_NAME_SUFFIX"] = os.environ.get("DATABASE_NAME_SUFFIX", "") + "_bench"
    from common.events.broker import TansuBroker
    from shopping import CATALOG_MANAGER, login, new_customer

    supervisor = Supervisor()
    broker = TansuBroker().start()
    levels = [Level(c, n, stock=int(n * 0.8)) for c, n in zip(args.concurrency, args.checkouts, strict=True)]
    try:
        url, kafka = start_platform(supervisor, broker)
        gateway = SyncGateway(url)
        manager_token = login(gateway, *CATALOG_MANAGER)["token"]
        users = [new_customer(gateway) for _ in range(max(args.concurrency))]
        use_cart = any(s["name"] == "cart" for s in discovery.services())
        print(f"{len(users)} customers; cart lines via {'addToCart' if use_cart else 'cart.cart events'}", flush=True)
        for level in levels:
            asyncio.run(run_level(url, kafka, users, manager_token, level, use_cart, args.poll_ms / 1000))
            load = os.getloadavg()
            print(f"c={level.concurrency:<3} checkouts={level.checkouts} stock={level.stock} in {level.seconds:.1f}s: "
                  f"{level.confirmed / level.seconds:.1f} confirmed/s, {sum(level.outcomes.values()) / level.seconds:.1f} "
                  f"settled/s {level.outcomes} errors={level.errors} | placement->CONFIRMED/REJECTED seen by the client "
                  f"p50/p95/p99 {percentile(level.client_ms, 50):.0f}/{percentile(level.client_ms, 95):.0f}/"
                  f"{percentile(level.client_ms, 99):.0f} ms (placeOrder alone p50/p95 {percentile(level.place_ms, 50):.0f}/"
                  f"{percentile(level.place_ms, 95):.0f} ms), in the database {percentile(level.server_ms, 50):.0f}/"
                  f"{percentile(level.server_ms, 95):.0f}/{percentile(level.server_ms, 99):.0f} ms | "
                  f"{level.confirmed_units} units confirmed, final stock {level.final_stock}, oversold {level.oversold} | "
                  f"load {load[0]:.1f} {load[1]:.1f}",
                  flush=True)
        gateway.close()
    finally:
        supervisor.stop()
        broker.stop()
    return 1 if any(level.oversold for level in levels) else 0


if __name__ == "__main__":
    raise SystemExit(main())
