"""Soak (issue 13): a steady mixed browse/cart/checkout workload through the gateway, memory of every
process sampled.

    .venv/bin/python bench/soak_bench.py [--minutes 10] [--rate 20] [--checkouts-per-minute 30]
                                         [--checkout-shoppers 4] [--sample-seconds 30]
                                         [--gateway-node-options "--max-old-space-size=256"]

The platform comes up on free ports (bench/_platform.py: every service of services.json with its
workers, the cart's own redis-server, a private Redis and broker, fresh *_soak databases, a
production-mode gateway). Two generators run side by side for `--minutes`:

* open loop at `--rate` requests/s: anonymous browsing (product pages, details, categories,
  searches), signed-in `me` reads, admin `adjustStock` writes, and cart traffic — `addToCart` /
  `updateCartItem` / `cart` by anonymous shoppers (a pool, each keeping its `X-Cart-Id`) and by
  signed-in customers;
* checkouts at `--checkouts-per-minute` by `--checkout-shoppers` other customers: clear the cart,
  `addToCart`, `placeOrder(cartVersion)`, poll `order` until CONFIRMED/REJECTED, then watch the
  cart drop the ordered line. Sold units are restocked with the admin's `adjustStock` once a
  product sold 20, so checkouts keep confirming.

Printed (JSON): requests, errors by code and by operation, p50/p99 per minute and overall,
orders placed/confirmed/rejected (and placement -> settled latency), and the RSS of every process
(gateway, each web, each worker, broker, both Redis) at the start, every `--sample-seconds`, and
at the end. Stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from _platform import ADMIN, CUSTOMER, Load, Outcome, Platform, run_load, wait_until

REGISTER = "mutation($input: RegisterInput!) { register(input: $input) { user { id } } }"
CREATE_PRODUCT = "mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }"
ADJUST = "mutation($id: ID!, $d: Int!) { adjustStock(productId: $id, delta: $d) { product { id stockQuantity } } }"
CART_FIELDS = "id version totalQuantity items { quantity product { id } }"
ADD = f"mutation($id: ID!, $q: Int!) {{ addToCart(productId: $id, quantity: $q) {{ {CART_FIELDS} }} }}"
UPDATE = f"mutation($id: ID!, $q: Int!) {{ updateCartItem(productId: $id, quantity: $q) {{ {CART_FIELDS} }} }}"
CLEAR = f"mutation {{ clearCart {{ {CART_FIELDS} }} }}"
CART = ("query { cart { id version totalQuantity subtotal { amount currency } "
        "items { quantity available unitPrice { amount } product { id name } } } }")
PLACE = ("mutation($key: String!, $address: AddressInput!, $version: Int) { placeOrder(idempotencyKey: $key, "
         "shippingAddress: $address, cartVersion: $version) { order { id status } } }")
ORDER = "query($id: ID!) { order(id: $id) { id status } }"
ADDRESS = {"name": "Soak Shopper", "line1": "1 Load St", "city": "Berlin", "postalCode": "10115", "country": "DE"}
SETTLED = ("CONFIRMED", "REJECTED")
RESTOCK_EVERY = 20  # units sold of one product before the admin adds them back
SHOP_STOCK = 60


# --- shoppers that keep their cart between requests -------------------------------------------------


@dataclass
class Shopper:
    """One cart: anonymous (its X-Cart-Id once the first addToCart made one) or a signed-in user's.
    `busy` leases it to one request at a time, so the lines it knows are the cart's (a failed
    request, whose check is not called, frees it after the client's timeout)."""

    headers: Any = None  # signed in: headers() -> {"Authorization": ...}
    cart_id: str | None = None
    lines: dict[str, int] = field(default_factory=dict)
    busy_since: float = 0.0

    def request_headers(self) -> dict[str, str]:
        if self.headers is not None:
            return self.headers()
        return {"X-Cart-Id": self.cart_id} if self.cart_id else {}

    def take(self) -> bool:
        if time.monotonic() - self.busy_since < 35:
            return False
        self.busy_since = time.monotonic()
        return True

    def remember(self, cart: dict[str, Any]) -> bool:
        if self.headers is None:
            self.cart_id = cart["id"]  # an unknown or expired id gets a fresh cart: keep the new one
        self.lines = {item["product"]["id"]: item["quantity"] for item in cart["items"]}
        self.busy_since = 0.0
        return True


def cart_operations(rng: random.Random, shoppers: list[Shopper], shop: list[str]) -> list[tuple[str, float, Any]]:
    def free() -> Shopper | None:
        for shopper in rng.sample(shoppers, len(shoppers)):
            if shopper.take():
                return shopper
        return None

    def idle_read() -> tuple[dict, dict, None]:  # every shopper busy: an anonymous cart read (null)
        return {"query": CART}, {}, None

    def change(field_name: str, shopper: Shopper, query: str, variables: dict) -> tuple[dict, dict, Any]:
        return ({"query": query, "variables": variables}, shopper.request_headers(),
                lambda body: shopper.remember(body["data"][field_name]))

    def add() -> tuple[dict, dict, Any]:
        shopper = free()
        if shopper is None:
            return idle_read()
        product = rng.choice(shop)
        if shopper.lines.get(product, 0) >= 4:  # keep lines small: lower it instead
            return change("updateCartItem", shopper, UPDATE, {"id": product, "q": rng.randint(1, 2)})
        return change("addToCart", shopper, ADD, {"id": product, "q": rng.randint(1, 2)})

    def update() -> tuple[dict, dict, Any]:
        shopper = free()
        if shopper is None:
            return idle_read()
        if not shopper.lines or (shopper.headers is None and not shopper.cart_id):
            return change("addToCart", shopper, ADD, {"id": rng.choice(shop), "q": 1})
        product = rng.choice(sorted(shopper.lines))
        return change("updateCartItem", shopper, UPDATE, {"id": product, "q": rng.randint(0, 4)})

    def view() -> tuple[dict, dict, Any]:
        shopper = rng.choice(shoppers)
        return {"query": CART}, shopper.request_headers(), None

    return [("addToCart", 3, add), ("updateCartItem", 2, update), ("cart", 2, view)]


def browse_operations(platform: Platform, product_ids: list[str]) -> list[tuple[str, float, Any]]:
    admin = platform.bearer(ADMIN)
    customer = platform.bearer(CUSTOMER)
    rng = random.Random(11)
    words = ["lamp", "desk", "chair", "oak", "brass", "mug", "sofa", "rug", "x"]

    def page() -> tuple[dict, dict, None]:
        first = rng.choice([5, 10, 20, 50])
        order = rng.choice(["NAME_ASC", "PRICE_ASC", "PRICE_DESC"])
        return ({"query": "query($f: Int, $o: ProductOrderBy) { products(first: $f, orderBy: $o) "
                          "{ totalCount edges { node { id sku name price { amount currency } } } pageInfo { endCursor } } }",
                 "variables": {"f": first, "o": order}}, {}, None)

    def search() -> tuple[dict, dict, None]:
        return ({"query": "query($s: String) { products(first: 10, filter: {search: $s}) { edges { node { id name } } } }",
                 "variables": {"s": rng.choice(words)}}, {}, None)

    def detail() -> tuple[dict, dict, None]:
        return ({"query": "query($id: ID!) { product(id: $id) { id name description stockQuantity category { name } } }",
                 "variables": {"id": rng.choice(product_ids)}}, {}, None)

    def categories() -> tuple[dict, dict, None]:
        return {"query": "{ categories { id name children { id name } } }"}, {}, None

    def me() -> tuple[dict, dict, None]:
        return {"query": "{ me { id email roles } }"}, customer(), None

    def adjust() -> tuple[dict, dict, None]:
        return {"query": ADJUST, "variables": {"id": rng.choice(product_ids), "d": rng.choice([1, 2, 3])}}, admin(), None

    return [("page", 4, page), ("search", 2, search), ("detail", 3, detail), ("categories", 1, categories),
            ("me", 2, me), ("adjust", 1, adjust)]


# --- checkouts -------------------------------------------------------------------------------------


@dataclass
class Checkouts:
    placed: int = 0
    outcomes: Counter = field(default_factory=Counter)  # CONFIRMED / REJECTED / PENDING_TIMEOUT / FAILED
    settle_ms: list[float] = field(default_factory=list)
    restocks: int = 0
    failures: list[str] = field(default_factory=list)


async def run_checkouts(url: str, shoppers: list[Any], admin: Any, shop: list[str], *, per_minute: float,
                        seconds: float, load: Load, started: float, result: Checkouts) -> None:
    """Closed loop per shopper, paced to `per_minute` checkouts overall; every request recorded in `load`."""
    rng = random.Random(17)
    period = 60.0 / per_minute
    counter = iter(range(10**9))
    sold: Counter = Counter()

    async with httpx.AsyncClient(timeout=30) as client:

        async def call(name: str, query: str, variables: dict | None, headers: dict) -> dict | None:
            at = time.perf_counter()
            try:
                response = await client.post(url, json={"query": query, "variables": variables or {}}, headers=headers)
                status, body = response.status_code, response.json()
            except (httpx.HTTPError, ValueError):
                status, body = 599, {}
            elapsed = time.perf_counter() - at
            errors = (body.get("errors") if isinstance(body, dict) else None) or []
            codes = tuple((e.get("extensions") or {}).get("code", "NO_CODE") for e in errors)
            ok = status == 200 and not errors
            load.outcomes.append(Outcome(name, status, elapsed, codes, ok, at=at - started))
            if not ok:
                if len(result.failures) < 5:
                    result.failures.append(f"{name}: {status} {errors[:1]}")
                return None
            return body["data"]

        async def restock(product: str, units: int) -> None:
            sold[product] += units
            if sold[product] >= RESTOCK_EVERY:
                delta, sold[product] = sold[product], 0
                if await call("restock", ADJUST, {"id": product, "d": delta}, admin()):
                    result.restocks += 1

        async def checkout(headers: Any) -> None:
            cart = (await call("cart", CART, None, headers())) or {}
            if (cart.get("cart") or {}).get("totalQuantity"):
                await call("clearCart", CLEAR, None, headers())
            product, quantity = rng.choice(shop), rng.randint(1, 2)
            added = await call("addToCart", ADD, {"id": product, "q": quantity}, headers())
            if not added:
                result.outcomes["FAILED"] += 1
                return
            placed_at = time.perf_counter()
            data = await call("placeOrder", PLACE, {"key": uuid.uuid4().hex, "address": ADDRESS,
                                                    "version": added["addToCart"]["version"]}, headers())
            if not data:
                result.outcomes["FAILED"] += 1
                return
            result.placed += 1
            order = data["placeOrder"]["order"]
            status, deadline = order["status"], time.monotonic() + 60
            while status not in SETTLED and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                polled = await call("order", ORDER, {"id": order["id"]}, headers())
                status = polled["order"]["status"] if polled else status
            if status not in SETTLED:
                result.outcomes["PENDING_TIMEOUT"] += 1
                return
            result.outcomes[status] += 1
            result.settle_ms.append((time.perf_counter() - placed_at) * 1000)
            if status == "CONFIRMED":
                await restock(product, quantity)
            # The cart drops the ordered line once it consumed orders.order.placed: wait for it, so the
            # next checkout starts from a cart that event cannot change any more.
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                view = await call("cart", CART, None, headers())
                if view is not None and not (view.get("cart") or {}).get("totalQuantity"):
                    break
                await asyncio.sleep(0.5)

        async def shopper_loop(headers: Any) -> None:
            while True:
                due = started + next(counter) * period
                if due - started >= seconds:
                    return
                if (delay := due - time.perf_counter()) > 0:
                    await asyncio.sleep(delay)
                await checkout(headers)

        await asyncio.gather(*(shopper_loop(headers) for headers in shoppers))


# --- set-up -------------------------------------------------------------------------------------------


def graphql(platform: Platform, query: str, variables: dict, headers: dict | None = None) -> dict:
    body = httpx.post(platform.gateway + "/graphql", json={"query": query, "variables": variables},
                      headers=headers or {}, timeout=60).json()
    if body.get("errors"):
        raise RuntimeError(f"{query[:40]}...: {body['errors']}")
    return body["data"]


def register_customers(platform: Platform, count: int) -> list[Any]:
    customers = []
    for _ in range(count):
        email, password = f"soak-{uuid.uuid4().hex[:12]}@example.com", f"Pw-{uuid.uuid4().hex}"
        graphql(platform, REGISTER, {"input": {"email": email, "password": password, "fullName": "Soak Shopper"}})
        customers.append(platform.bearer((email, password)))
    return customers


def create_shop(platform: Platform, count: int) -> list[str]:
    """`count` products with SHOP_STOCK units each, once the cart's and orders' read models hold them."""
    import redis

    admin = platform.bearer(ADMIN)()
    shop = []
    for n in range(count):
        tag = uuid.uuid4().hex[:8].upper()
        product = {"sku": f"SOAK-{tag}", "name": f"Soak lamp {n} {tag}", "price": f"{9 + n}.50",
                   "stockQuantity": SHOP_STOCK}
        shop.append(graphql(platform, CREATE_PRODUCT, {"input": product}, admin)["createProduct"]["product"]["id"])
    cart_redis = redis.Redis.from_url(platform.env["CART_REDIS_URL"])
    in_cart = wait_until(lambda: all(cart_redis.exists(f"cart:product:{p}") for p in shop), timeout=120)
    in_orders = wait_until(lambda: platform.sql("orders", "SELECT count(*) FROM orders_productreplica "
                                                          "WHERE product_id = ANY(%s::uuid[])", shop)[0][0] == len(shop),
                           timeout=120)
    cart_redis.close()
    if not (in_cart and in_orders):
        raise SystemExit(f"read models not filled in 120 s (cart: {in_cart}, orders: {in_orders})")
    return shop


# --- figures ------------------------------------------------------------------------------------------


def errors_by(load: Load) -> dict[str, Any]:
    failed = [o for o in load.outcomes if not o.ok]
    return {
        "failed_requests": len(failed),
        "by_code": dict(Counter(code for o in failed for code in (o.codes or (f"HTTP_{o.status}",))).most_common()),
        "by_operation": dict(Counter(o.name for o in failed).most_common()),
        "by_status": dict(Counter(o.status for o in load.outcomes).most_common()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=20, help="open-loop browse + cart requests per second")
    parser.add_argument("--checkouts-per-minute", type=float, default=30)
    parser.add_argument("--checkout-shoppers", type=int, default=4)
    parser.add_argument("--cart-customers", type=int, default=4, help="signed-in customers in the cart traffic")
    parser.add_argument("--anonymous-carts", type=int, default=40)
    parser.add_argument("--sample-seconds", type=float, default=30)
    parser.add_argument("--gateway-node-options", default="", help="NODE_OPTIONS for the gateway (e.g. a heap cap)")
    options = parser.parse_args()
    if options.gateway_node_options:
        os.environ["NODE_OPTIONS"] = options.gateway_node_options
    load_before = os.getloadavg()
    seconds = options.minutes * 60
    with Platform(os.environ.get("DATABASE_NAME_SUFFIX", "") + "_soak") as platform:
        os.environ.pop("NODE_OPTIONS", None)
        url = platform.gateway + "/graphql"
        product_ids = [str(row[0]) for row in platform.sql("catalog", "SELECT id FROM catalog_product LIMIT 200")]
        shop = create_shop(platform, 10)
        customers = register_customers(platform, options.cart_customers + options.checkout_shoppers)
        cart_shoppers = [Shopper() for _ in range(options.anonymous_carts)]
        cart_shoppers += [Shopper(headers=h) for h in customers[: options.cart_customers]]
        checkout_shoppers = customers[options.cart_customers:]
        rng = random.Random(23)
        ops = browse_operations(platform, product_ids) + cart_operations(rng, cart_shoppers, shop)
        asyncio.run(run_load(url, ops, rate=10, seconds=10, load=Load()))  # warm-up
        samples: list[tuple[float, dict[str, float]]] = [(0.0, platform.rss())]
        load = Load()
        checkouts = Checkouts()
        stop = threading.Event()
        started_wall = time.time()

        def sample() -> None:
            while not stop.wait(options.sample_seconds):
                samples.append((round(time.time() - started_wall), platform.rss()))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()

        async def both() -> None:
            started = time.perf_counter()  # run_load's own clock starts within milliseconds of this one
            await asyncio.gather(
                run_load(url, ops, rate=options.rate, seconds=seconds, load=load),
                run_checkouts(url, checkout_shoppers, platform.bearer(ADMIN), shop,
                              per_minute=options.checkouts_per_minute, seconds=seconds, load=load,
                              started=started, result=checkouts))

        asyncio.run(both())
        elapsed = time.time() - started_wall
        stop.set()
        sampler.join(timeout=5)
        samples.append((round(elapsed), platform.rss()))
        alive = platform.alive()
        stock = {row[0]: row[1] for row in platform.sql(
            "catalog", "SELECT id::text, stock_quantity FROM catalog_product WHERE id = ANY(%s::uuid[])", shop)}
        orders_db = platform.sql("orders", "SELECT status, count(*) FROM orders_order GROUP BY status")

    per_minute = []
    for minute in range(int(options.minutes + 0.999)):
        window = Load([o for o in load.outcomes if minute * 60 <= o.at < (minute + 1) * 60])
        if window.outcomes:
            summary = window.summary()
            per_minute.append({"minute": minute + 1, "requests": summary["requests"], "ok": summary["ok"],
                               "p50_ms": summary["p50_ms"], "p99_ms": summary["p99_ms"], "max_ms": summary["max_ms"]})
    names = sorted(samples[0][1], key=lambda name: (not name.endswith("gateway"), name))
    print(json.dumps({
        "minutes": options.minutes, "rate": options.rate, "checkouts_per_minute": options.checkouts_per_minute,
        "gateway_node_options": options.gateway_node_options, "elapsed_s": round(elapsed),
        "overall": {**load.summary(), "req_per_s": round(len(load.outcomes) / elapsed, 1)},
        "errors": errors_by(load),
        "per_operation": {name: {"requests": s["requests"], "p50_ms": s["p50_ms"], "p99_ms": s["p99_ms"]}
                          for name in sorted({o.name for o in load.outcomes})
                          for s in [Load([o for o in load.outcomes if o.name == name]).summary()]},
        "per_minute": per_minute,
        "checkouts": {"placed": checkouts.placed, **dict(checkouts.outcomes), "restocks": checkouts.restocks,
                      "settle_p50_ms": round(statistics.median(checkouts.settle_ms), 1) if checkouts.settle_ms else None,
                      "settle_p99_ms": round(sorted(checkouts.settle_ms)[int(0.99 * (len(checkouts.settle_ms) - 1))], 1)
                      if checkouts.settle_ms else None,
                      "orders_in_database": dict(orders_db), "shop_stock_at_end": sorted(stock.values()),
                      "first_failures": checkouts.failures},
        "rss_mb": {name: {"start": round(samples[0][1].get(name, 0), 1), "end": round(samples[-1][1].get(name, 0), 1),
                          "max": round(max(s[1].get(name, 0) for s in samples), 1)} for name in names},
        "gateway_rss_curve": [(t, round(s.get("bench-gateway", 0), 1)) for t, s in samples],
        "all_processes_alive": all(alive.values()), "dead": [name for name, up in alive.items() if not up],
        "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
    }, indent=1))


if __name__ == "__main__":
    main()
