"""Row counts around a fuzzed request (issue 13): what it wrote must match what it says succeeded.

`RowWatch` snapshots every table of every service database (row count and an order-independent
digest of the rows' contents) and every key kind of each service's own Redis (the cart: carts,
product read model, processed markers, the outbox stream's entries). `check_effects` compares two
snapshots with what the answer says happened, root field by root field:

- a root field that answered with an error at its own path (or a request refused as a whole)
  changed nothing: no row, no content, no outbox event — nothing half-written;
- a root field that succeeded changed exactly what `EFFECTS` says for it (e.g. `createProduct`:
  +1 `catalog_product`, one `catalog.product.created` event) and nothing else; several succeeded
  fields add up; a field whose outcome the answer does not tell (not executed after an earlier
  error) may have done one of its effects or nothing;
- a query, or a malformed body, changed nothing at all.

Every mutation of every schema must have an entry (`missing_effects`): a new mutation fails the
fuzz tests until its effect is written down here. Needs a quiet platform: the workers (relays,
consumers, the orders expiry loop) write rows too, so callers stop them while they fuzz. The shared
Redis (caches, throttle counters, the session registry) is not data and is not watched.
"""

from __future__ import annotations

import itertools
import json
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import graphql

OUTBOX_TABLES = ("events_outboxevent", "redis.outbox")  # their rows are checked as events, by type


@dataclass(frozen=True)
class Effect:
    """One way a successful root field may change the stores: row-count deltas per "<service>.<table>"
    (a table listed with 0 may change content, not count) and the outbox events it records, by type.
    Where the number depends on data (one row per cart line, one event per ended session):
    `any_rows` tables may change by any amount of the given sign, `any_events` be recorded any
    number of times."""

    rows: Mapping[str, int] = field(default_factory=dict)
    events: tuple[str, ...] = ()
    any_rows: Mapping[str, int] = field(default_factory=dict)
    any_events: tuple[str, ...] = ()


NOTHING = Effect()


def _crud(service: str, table: str, topic: str, *, noun: str) -> dict[str, tuple[Effect, ...]]:
    """create<Noun> / update<Noun> / delete<Noun> of a bridged model: +1 / 0 / -1 row, one model-state event."""
    qualified = f"{service}.{table}"
    return {
        f"create{noun}": (Effect({qualified: 1}, (f"{topic}.created",)),),
        f"update{noun}": (Effect({qualified: 0}, (f"{topic}.updated",)),),
        f"delete{noun}": (Effect({qualified: -1}, (f"{topic}.deleted",)),),
    }


def _order_transition(status: str) -> tuple[Effect, ...]:
    return (Effect({"orders.orders_order": 0, "orders.orders_orderevent": 1}, (f"orders.order.{status}",)),)


# What each mutation root field does when it succeeds (alternatives: any one of them). Read from the
# commands (catalog/orders/accounts/cart commands.py); keyed by root field name across subgraphs.
EFFECTS: dict[str, tuple[Effect, ...]] = {
    **_crud("catalog", "catalog_product", "catalog.product", noun="Product"),
    **_crud("catalog", "catalog_category", "catalog.category", noun="Category"),
    # The product's save (model state) and the domain event of the adjustment.
    "adjustStock": (Effect({"catalog.catalog_product": 0}, ("catalog.product.updated", "catalog.stock.adjusted")),),
    # A new cart (anonymous without a live X-Cart-Id, or the user's first) or a changed one.
    "addToCart": (Effect({"cart.redis.cart": 1}, ("cart.cart.item_added",)),
                  Effect({"cart.redis.cart": 0}, ("cart.cart.item_added",))),
    # The same quantity again changes nothing; 0 removes the line.
    "updateCartItem": (NOTHING, Effect({"cart.redis.cart": 0}, ("cart.cart.item_updated",)),
                       Effect({"cart.redis.cart": 0}, ("cart.cart.item_removed",))),
    "removeFromCart": (Effect({"cart.redis.cart": 0}, ("cart.cart.item_removed",)),),
    "clearCart": (NOTHING, Effect({"cart.redis.cart": 0}, ("cart.cart.cleared",))),
    # Source gone (merged already): nothing; else the source is deleted and the target written
    # (created if it was missing: one key in, one out).
    "mergeCart": (NOTHING, Effect({"cart.redis.cart": -1}, ("cart.cart.merged",)),
                  Effect({"cart.redis.cart": 0}, ("cart.cart.merged",))),
    # A new PENDING order with its lines (one per cart line) and first history row; the same
    # idempotency key again returns the existing order.
    "placeOrder": (NOTHING, Effect({"orders.orders_order": 1, "orders.orders_orderevent": 1}, ("orders.order.placed",),
                                   any_rows={"orders.orders_orderline": 1})),
    "cancelOrder": _order_transition("cancelled"),
    "payOrder": _order_transition("paid"),
    "shipOrder": _order_transition("shipped"),
    "deliverOrder": _order_transition("delivered"),
    # A new customer: user row, role link (the bridge's `updated`, m2m_fields=groups) and the
    # domain event; or, for a taken email, the same answer with only the owner's notification event.
    "register": (Effect({"accounts.accounts_user": 1, "accounts.accounts_user_groups": 1},
                        ("accounts.user.created", "accounts.user.updated", "accounts.user.registered")),
                 Effect({}, ("accounts.user.registration_attempted",))),
    # A new session (and the browser session cookie's row); ending sessions records one
    # `accounts.session.revoked` each and drops their browser sessions.
    "login": (Effect({"accounts.accounts_session": 1, "accounts.accounts_user": 0}, any_rows={"accounts.django_session": 1}),),
    "refreshToken": (Effect({"accounts.accounts_session": 0}),),
    "logout": (NOTHING, Effect({"accounts.accounts_session": 0}, ("accounts.session.revoked",),
                               any_rows={"accounts.django_session": -1})),
    "logoutAllSessions": (Effect({"accounts.accounts_session": 0}, any_rows={"accounts.django_session": -1},
                                 any_events=("accounts.session.revoked",)),),
    # The password (the bridge's `updated`) and every other session ended.
    "changePassword": (Effect({"accounts.accounts_user": 0, "accounts.accounts_session": 0},
                              any_rows={"accounts.django_session": -1},
                              any_events=("accounts.user.updated", "accounts.session.revoked")),),
}


def missing_effects(schema: graphql.GraphQLSchema) -> list[str]:
    """Mutation root fields of `schema` with no entry in EFFECTS."""
    mutation = schema.mutation_type
    return sorted(set(mutation.fields) - set(EFFECTS)) if mutation is not None else []


# --- rows the fuzzer may change -------------------------------------------------------------

CREATE_PRODUCT = "mutation($i: CreateProductInput!) { createProduct(input: $i) { product { id } } }"
CREATE_CATEGORY = "mutation($i: CreateCategoryInput!) { createCategory(input: $i) { category { id } } }"


def create_fodder(data: Callable[[str, dict[str, Any]], dict[str, Any]], *, categories: int = 3,
                  products: int = 8) -> list[str]:
    """Ids the fuzzer may update and delete: empty categories, then products (50 in stock) of its own,
    never the seeded ones other tests read. `data(document, variables)` runs a staff request."""
    suffix = uuid.uuid4().hex[:8]
    ids = [data(CREATE_CATEGORY, {"i": {"name": f"Fuzz {suffix} {n}"}})["createCategory"]["category"]["id"]
           for n in range(categories)]
    for n in range(products):
        product = {"sku": f"FUZZ-{suffix}-{n}", "name": f"Fuzz {n}", "price": "5.00", "stockQuantity": 50}
        ids.append(data(CREATE_PRODUCT, {"i": product})["createProduct"]["product"]["id"])
    return ids


def wait_for_cart_read_model(redis_url: str, product_ids: Iterable[str], *, prefix: str = "cart:") -> None:
    """Until the cart's product read model has them (with the workers running), so cart lines may succeed."""
    import redis

    from common.testing.polling import wait_until

    client = redis.Redis.from_url(redis_url)
    try:
        wait_until(lambda: all(client.exists(f"{prefix}product:{i}") for i in product_ids), timeout=60,
                   what="the fuzz products in the cart's read model")
    finally:
        client.close()


# --- snapshots --------------------------------------------------------------------------------


@dataclass
class Snapshot:
    tables: dict[str, tuple[int, int]]  # "<service>.<table>" -> (rows, content digest)
    outbox_marks: dict[str, Any]  # "<service>.<outbox table>" -> last id / stream entry id


@dataclass
class Changes:
    rows: dict[str, int]  # tables whose count changed -> delta
    touched: set[str]  # tables whose contents changed (count or digest)
    events: Counter[str]  # outbox events recorded, by type

    def __bool__(self) -> bool:
        return bool(self.rows or self.touched or self.events)

    def describe(self) -> str:
        return f"rows {self.rows}, contents changed in {sorted(self.touched)}, events {dict(self.events)}"


class RowWatch:
    """Connections to every service's stores: `snapshot()` before, `changes(before)` after."""

    def __init__(self, databases: Mapping[str, str], redis_urls: Mapping[str, str]) -> None:
        import psycopg
        import redis

        self.databases = {name: psycopg.connect(url, autocommit=True) for name, url in databases.items()}
        self.redis = {name: redis.Redis.from_url(url, decode_responses=True) for name, url in redis_urls.items()}

    def close(self) -> None:
        for connection in self.databases.values():
            connection.close()
        for client in self.redis.values():
            client.close()

    def snapshot(self) -> Snapshot:
        tables: dict[str, tuple[int, int]] = {}
        marks: dict[str, Any] = {}
        from psycopg import sql

        for service, connection in self.databases.items():
            names = [row[0] for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
            # One round trip per database: count and a sum of row hashes (order-independent) per table.
            query = sql.SQL(" UNION ALL ").join(
                sql.SQL("SELECT {}, count(*), coalesce(sum(hashtext(t::text)::bigint), 0) FROM {} t").format(
                    sql.Literal(name), sql.Identifier(name))
                for name in names)
            for name, count, digest in connection.execute(query).fetchall() if names else []:
                tables[f"{service}.{name}"] = (int(count), int(digest))
            if "events_outboxevent" in names:
                marks[f"{service}.events_outboxevent"] = connection.execute(
                    "SELECT coalesce(max(id), 0) FROM events_outboxevent").fetchone()[0]
        for service, client in self.redis.items():
            tables.update(self._redis_kinds(service, client))
            last = client.xrevrange(self._stream(client), count=1) if self._stream(client) else []
            marks[f"{service}.redis.outbox"] = last[0][0] if last else "0-0"
        return Snapshot(tables, marks)

    @staticmethod
    def _stream(client: Any) -> str | None:
        found = [key for key in client.scan_iter(match="*outbox") if client.type(key) == "stream"]
        return found[0] if found else None

    @staticmethod
    def _redis_kinds(service: str, client: Any) -> dict[str, tuple[int, int]]:
        """Keys are "<prefix>:<kind>[:<id>]" (cart/store.py); a stream counts its entries. Relay leases
        ("...-lock") are coordination, not data."""
        keys = sorted(key for key in client.scan_iter(count=1000) if not key.endswith("-lock"))
        with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.type(key)
            types = pipe.execute()
        with client.pipeline(transaction=False) as pipe:
            for key, kind in zip(keys, types, strict=True):
                {"hash": pipe.hgetall, "string": pipe.get, "stream": pipe.xlen, "set": pipe.smembers,
                 "list": lambda k, p=pipe: p.lrange(k, 0, -1), "zset": lambda k, p=pipe: p.zrange(k, 0, -1, withscores=True),
                 }.get(kind, pipe.exists)(key)
            values = pipe.execute()
        kinds: dict[str, tuple[int, int]] = {}
        for key, kind, value in zip(keys, types, values, strict=True):
            parts = key.split(":")
            name = f"{service}.redis.{parts[1] if len(parts) > 1 else parts[0]}"
            rows, digest = kinds.get(name, (0, 0))
            text = json.dumps(sorted(value.items()) if isinstance(value, dict) else
                              sorted(value) if isinstance(value, set) else value, default=str)
            kinds[name] = (rows + (value if kind == "stream" else 1), digest + zlib.crc32(f"{key}={text}".encode()))
        return kinds

    def changes(self, before: Snapshot) -> Changes:
        after = self.snapshot()
        rows: dict[str, int] = {}
        touched: set[str] = set()
        for name in before.tables.keys() | after.tables.keys():
            old, new = before.tables.get(name, (0, 0)), after.tables.get(name, (0, 0))
            if old != new:
                touched.add(name)
            if old[0] != new[0]:
                rows[name] = new[0] - old[0]
        return Changes(rows, touched, self._new_events(before))

    def _new_events(self, before: Snapshot) -> Counter[str]:
        events: Counter[str] = Counter()
        for service, connection in self.databases.items():
            mark = before.outbox_marks.get(f"{service}.events_outboxevent")
            if mark is not None:
                events.update(row[0] for row in connection.execute(
                    "SELECT event_type FROM events_outboxevent WHERE id > %s", [mark]))
        for service, client in self.redis.items():
            stream = self._stream(client)
            if stream:
                mark = before.outbox_marks.get(f"{service}.redis.outbox", "0-0")
                for _, fields in client.xrange(stream, min=f"({mark}"):
                    events[json.loads(fields["envelope"])["event_type"]] += 1
        return events


# --- what the answer says --------------------------------------------------------------------

SUCCEEDED, FAILED, UNKNOWN = "succeeded", "failed", "unknown"


def root_outcomes(document: str, body: Any) -> dict[str, tuple[str, str]]:
    """Response key -> (root field name, outcome) for the mutation's root fields, from the answer.

    Failed: an error at exactly the field's path, or the request refused as a whole (no data, only
    errors without a path: parse, validation, cost, variables). Succeeded: data for the field, or
    an error only below it (the command ran; resolving its result failed). Unknown: no word either
    way (e.g. not executed once an earlier non-null field failed and nulled `data`)."""
    try:
        parsed = graphql.parse(document)
    except graphql.GraphQLError:
        return {}
    operations = [d for d in parsed.definitions if isinstance(d, graphql.OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].operation != graphql.OperationType.MUTATION:
        return {}
    items = body if isinstance(body, list) else [body]
    body = items[0] if len(items) == 1 and isinstance(items[0], dict) else {}
    data = body.get("data")
    errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    refused = data is None and errors and all(not e.get("path") for e in errors)
    outcomes: dict[str, tuple[str, str]] = {}
    for selection in operations[0].selection_set.selections:
        if not isinstance(selection, graphql.FieldNode):
            continue  # hypothesis-graphql writes plain fields; fragments would be Unknown below anyway
        name = selection.name.value
        if name.startswith("__"):
            continue
        key = selection.alias.value if selection.alias else name
        own = [e for e in errors if (e.get("path") or [None])[0] == key]
        if refused or any(len(e["path"]) == 1 for e in own):
            outcome = FAILED
        elif (isinstance(data, dict) and data.get(key) is not None) or own:
            outcome = SUCCEEDED
        else:
            outcome = UNKNOWN
        outcomes[key] = (name, outcome)
    return outcomes


def _matches(effects: Iterable[Effect], changes: Changes) -> bool:
    exact: Counter[str] = Counter()
    events: Counter[str] = Counter()
    flexible: dict[str, int] = {}  # table -> sign of the extra change it may have
    repeatable: set[str] = set()
    for effect in effects:
        exact.update(effect.rows)
        events.update(effect.events)
        flexible.update(effect.any_rows)
        repeatable |= set(effect.any_events)
    observed = {name: delta for name, delta in changes.rows.items() if not name.endswith(OUTBOX_TABLES)}
    for name in set(observed) | set(exact):
        extra = observed.get(name, 0) - exact.get(name, 0)
        if extra and not (name in flexible and extra * flexible[name] > 0):
            return False
    touched = {name for name in changes.touched if not name.endswith(OUTBOX_TABLES)}
    if not touched <= set(exact) | set(flexible):
        return False
    return not (events - changes.events) and set(changes.events - events) <= repeatable


def check_effects(document: str, body: Any, changes: Changes) -> None:
    """Assert `changes` are what the answer says happened (module docstring). A query, or a body
    that is no mutation, must have changed nothing."""
    outcomes = root_outcomes(document, body)
    choices: list[tuple[Effect, ...]] = []
    for name, outcome in outcomes.values():
        if outcome == FAILED:
            continue
        assert name in EFFECTS, f"mutation {name!r} has no entry in common.testing.rows.EFFECTS"
        choices.append(EFFECTS[name] if outcome == SUCCEEDED else (*EFFECTS[name], NOTHING))
    if not choices:
        assert not changes, (f"nothing succeeded ({outcomes}) but the stores changed: {changes.describe()}\n"
                             f"{document[:500]}\n{json.dumps(body)[:500]}")
        return
    assert any(_matches(combination, changes) for combination in itertools.product(*choices)), (
        f"the stores changed otherwise than the answer says ({outcomes}): {changes.describe()}\n"
        f"{document[:500]}\n{json.dumps(body)[:500]}")
