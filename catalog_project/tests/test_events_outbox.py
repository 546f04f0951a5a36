"""Write side of the events, without a broker: the envelope, the outbox, the model bridge
(GraphQL, admin, shell, data migrations) and transactional behaviour."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from catalog import commands
from catalog import events as catalog_events
from catalog.models import Product
from common.auth.roles import CATALOG_MANAGER
from common.correlation import HEADER
from common.events import bridge
from common.events.envelope import Envelope, InvalidEnvelope
from common.events.models import OutboxEvent
from common.events.outbox import record_event
from common.events.relay import prune_sent
from common.testing.outbox import outbox_for
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

CREATE = """mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }"""
ADJUST = """mutation($id: ID!, $delta: Int!) { adjustStock(productId: $id, delta: $delta) { product { stockQuantity } } }"""


def valid_envelope_dict() -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "catalog.product.updated",
        "schema_version": 1,
        "aggregate_id": str(uuid.uuid4()),
        "occurred_at": "2026-01-02T03:04:05.123456+00:00",
        "producer": "catalog",
        "correlation_id": "req-1",
        "actor": "0b6c1a8e-3f0e-4a43-9d6a-6f7d9c2b1a10",
        "causation_id": str(uuid.uuid4()),
        "payload": {"sku": "A"},
    }


# --- envelope ----------------------------------------------------------------------------------


def test_envelope_round_trips_through_json() -> None:
    data = valid_envelope_dict()
    envelope = Envelope.from_json(json.dumps(data).encode())
    assert envelope.to_dict() == data
    assert envelope.topic == "catalog.product"
    assert Envelope.from_json(envelope.to_json()) == envelope


def test_envelope_without_actor_and_causation_is_still_valid() -> None:
    """Events recorded before `actor`/`causation_id` existed read as a system action with no cause."""
    data = valid_envelope_dict()
    del data["actor"], data["causation_id"]
    envelope = Envelope.from_json(json.dumps(data).encode())
    assert (envelope.actor, envelope.causation_id) == ("system", None)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d.pop("event_id"), "missing field"),
        (lambda d: d.update(event_id="not-a-uuid"), "event_id"),
        (lambda d: d.update(event_type="Catalog Product"), "event_type"),
        (lambda d: d.update(event_type="catalog.product"), "event_type"),
        (lambda d: d.update(schema_version=0), "schema_version"),
        (lambda d: d.update(schema_version=True), "schema_version"),
        (lambda d: d.update(schema_version="1"), "schema_version"),
        (lambda d: d.update(aggregate_id=""), "aggregate_id"),
        (lambda d: d.update(occurred_at="yesterday"), "occurred_at"),
        (lambda d: d.update(occurred_at="2026-01-02T03:04:05"), "occurred_at"),  # no timezone
        (lambda d: d.update(producer=""), "producer"),
        (lambda d: d.update(correlation_id=None), "correlation_id"),
        (lambda d: d.update(payload=[1, 2]), "payload"),
        (lambda d: d.update(actor=""), "actor"),
        (lambda d: d.update(actor=7), "actor"),
        (lambda d: d.update(causation_id="not-a-uuid"), "causation_id"),
        (lambda d: d.update(causation_id=3), "causation_id"),
    ],
)
def test_envelope_rejects_malformed_messages(mutate, reason: str) -> None:
    data = valid_envelope_dict()
    mutate(data)
    with pytest.raises(InvalidEnvelope, match=reason):
        Envelope.from_json(json.dumps(data).encode())


@pytest.mark.parametrize("raw", [None, b"", b"not json", b"\xff\xfe", b"[]", b'"text"'])
def test_envelope_rejects_non_objects(raw: bytes | None) -> None:
    with pytest.raises(InvalidEnvelope):
        Envelope.from_json(raw)


# --- record_event ------------------------------------------------------------------------------


def test_record_event_refuses_to_run_outside_a_transaction(transactional_db: None) -> None:
    with pytest.raises(RuntimeError, match=r"inside transaction\.atomic"):
        record_event(topic="catalog.product", event_type="catalog.product.updated", aggregate_id="x", payload={})
    assert not OutboxEvent.objects.exists()


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"payload": {"price": Decimal("1.00")}}, "JSON"),
        ({"payload": {"n": float("nan")}}, "JSON"),
        ({"event_type": "catalog.category.created"}, "does not belong"),
        ({"topic": "Catalog Product", "event_type": "Catalog Product.x"}, "topic"),
    ],
)
def test_record_event_validates_before_writing(db: None, fields: dict, reason: str) -> None:
    arguments = {"topic": "catalog.product", "event_type": "catalog.product.updated", "aggregate_id": "a", "payload": {}}
    arguments.update(fields)
    with transaction.atomic(), pytest.raises(InvalidEnvelope, match=reason):
        record_event(**arguments)
    assert not OutboxEvent.objects.exists()


def test_record_event_limits_the_size(db: None, settings) -> None:
    settings.EVENTS_MAX_PAYLOAD_BYTES = 500
    with transaction.atomic(), pytest.raises(InvalidEnvelope, match="bytes"):
        record_event(topic="catalog.product", event_type="catalog.product.updated", aggregate_id="a", payload={"x": "y" * 600})


def test_rolled_back_transaction_leaves_no_outbox_row(transactional_db: None) -> None:
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        record_event(topic="catalog.product", event_type="catalog.product.updated", aggregate_id="a", payload={})
        assert OutboxEvent.objects.count() == 1
        _ = 1 / 0
    assert not OutboxEvent.objects.exists()


# --- the catalog's events ------------------------------------------------------------------------


def test_create_mutation_records_exactly_one_created_event(gql, category) -> None:
    body = gql.execute(
        CREATE,
        {"input": {"sku": "EV-1", "name": "Lamp", "price": "12.50", "stockQuantity": 4, "categoryId": str(category.pk)}},
        HTTP_X_CORRELATION_ID="checkout-42",
    )
    product_id = body["data"]["createProduct"]["product"]["id"]
    [event] = outbox_for(product_id)
    assert event.topic == "catalog.product"
    assert event.event_type == catalog_events.PRODUCT_CREATED
    assert event.producer == "catalog"
    assert event.correlation_id == "checkout-42"
    assert event.sent_at is None
    assert event.payload == {
        "id": product_id,
        "sku": "EV-1",
        "name": "Lamp",
        "description": "",
        "price": "12.50",
        "currency": "USD",
        "stock_quantity": 4,
        "category_id": str(category.pk),
        "is_active": True,
        "updated_at": event.payload["updated_at"],
    }
    assert event.to_envelope().occurred_at <= timezone.now()


def test_stock_adjustment_records_the_model_state_and_an_explicit_domain_event(anon_gql, tokens, make_product) -> None:
    product = make_product(stock_quantity=5)
    OutboxEvent.objects.all().delete()
    manager = tokens.mint(roles=[CATALOG_MANAGER])
    anon_gql.as_token(manager.token).data(ADJUST, {"id": str(product.pk), "delta": -2})
    state, decision = outbox_for(product.pk)
    # The save's plain model-state event (from the bridge), then the command's domain event.
    assert (state.topic, state.event_type) == ("catalog.product", catalog_events.PRODUCT_UPDATED)
    assert state.payload["stock_quantity"] == 3 and "delta" not in state.payload
    assert (decision.topic, decision.event_type) == ("catalog.stock", catalog_events.STOCK_ADJUSTED)
    assert decision.payload == {"product_id": str(product.pk), "delta": -2, "previous_quantity": 5, "stock_quantity": 3}
    # Both act for the signed-in manager, were caused by a request (no event), share a correlation.
    assert {state.actor, decision.actor} == {manager.user_id}
    assert state.causation_id is None and decision.causation_id is None
    assert state.correlation_id == decision.correlation_id


def test_events_recorded_outside_a_request_act_for_the_system(db: None) -> None:
    product = commands.create_product(sku="SYS-1", name="Lamp", price=Decimal("1.00"))
    [event] = outbox_for(product.pk)
    assert (event.actor, event.causation_id) == ("system", None)
    assert product.currency == "USD"  # settings.CATALOG_DEFAULT_CURRENCY


def test_default_currency_comes_from_the_setting(db: None, settings) -> None:
    settings.CATALOG_DEFAULT_CURRENCY = "EUR"
    assert commands.create_product(sku="EUR-1", name="Lamp", price=Decimal("1.00")).currency == "EUR"


def test_an_admin_change_acts_for_the_signed_in_staff_member(admin_client, admin_user, make_product) -> None:
    product = make_product()
    admin_client.post(f"/admin/catalog/product/{product.pk}/delete/", {"post": "yes"})
    assert outbox_for(product.pk)[-1].actor == str(admin_user.pk)


def test_update_and_delete_commands_record_their_events(make_product) -> None:
    product = make_product()
    commands.update_product(product_id=product.pk, changes={"name": "Renamed"})
    commands.delete_product(product_id=product.pk)
    types = [event.event_type for event in outbox_for(product.pk)]
    assert types == [catalog_events.PRODUCT_CREATED, catalog_events.PRODUCT_UPDATED, catalog_events.PRODUCT_DELETED]
    assert outbox_for(product.pk)[1].payload["name"] == "Renamed"


def test_category_changes_are_published(db: None) -> None:
    category = commands.create_category(name="Garden")
    commands.update_category(category_id=category.pk, changes={"name": "Garden & Patio"})
    commands.delete_category(category_id=category.pk)
    events = outbox_for(category.pk)
    assert [e.event_type for e in events] == ["catalog.category.created", "catalog.category.updated", "catalog.category.deleted"]
    assert {e.topic for e in events} == {"catalog.category"}
    assert events[1].payload == {"id": str(category.pk), "name": "Garden & Patio", "slug": "garden", "parent_id": None}


def test_failed_mutation_leaves_no_outbox_row(gql, transactional_db: None) -> None:
    error = gql.error(CREATE, {"input": {"sku": "RB-1", "name": "Lamp", "price": "-1.00"}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert not Product.objects.filter(sku="RB-1").exists()
    assert not OutboxEvent.objects.exists()


def test_event_rolls_back_with_the_transaction_of_its_change(transactional_db: None) -> None:
    """The event is written with the change: when the enclosing transaction fails after the
    command ran (and its event row existed), neither the product nor the event remains."""
    with pytest.raises(RuntimeError, match="later step failed"), transaction.atomic():
        product = commands.create_product(sku="RB-2", name="Lamp", price=Decimal("1.00"))
        assert len(outbox_for(product.pk)) == 1
        raise RuntimeError("later step failed")
    assert not Product.objects.filter(sku="RB-2").exists()
    assert not OutboxEvent.objects.exists()


def test_conflicting_stock_adjustment_records_nothing(gql, make_product) -> None:
    product = make_product(stock_quantity=1)
    before = OutboxEvent.objects.count()
    error = gql.error(ADJUST, {"id": str(product.pk), "delta": -5})
    assert error["extensions"]["code"] == "CONFLICT"
    assert OutboxEvent.objects.count() == before


# --- outside GraphQL: admin, shell, data migrations ----------------------------------------------


def test_admin_edit_publishes_the_update(admin_client, make_product) -> None:
    product = make_product(stock_quantity=7)
    OutboxEvent.objects.all().delete()
    response = admin_client.post(
        f"/admin/catalog/product/{product.pk}/change/",
        {
            "sku": product.sku,
            "name": "Edited in the admin",
            "description": "",
            "price": "99.90",
            "currency": "USD",
            "stock_quantity": "3",
            "category": str(product.category_id),
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    [event] = outbox_for(product.pk)
    assert event.event_type == catalog_events.PRODUCT_UPDATED
    assert (event.payload["name"], event.payload["price"], event.payload["stock_quantity"]) == ("Edited in the admin", "99.90", 3)


def test_admin_delete_publishes_the_deletion(admin_client, make_product) -> None:
    product = make_product()
    response = admin_client.post(f"/admin/catalog/product/{product.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert outbox_for(product.pk)[-1].event_type == catalog_events.PRODUCT_DELETED


def test_admin_bulk_delete_publishes_one_event_per_product(admin_client, make_product) -> None:
    products = [make_product(), make_product()]
    response = admin_client.post(
        "/admin/catalog/product/",
        {"action": "delete_selected", "post": "yes", "_selected_action": [str(p.pk) for p in products]},
    )
    assert response.status_code == 302
    for product in products:
        assert [e.event_type for e in outbox_for(product.pk)][-1] == catalog_events.PRODUCT_DELETED


def test_shell_save_in_autocommit_commits_change_and_event_together(transactional_db: None, settings) -> None:
    """In autocommit mode (the shell) a plain save would commit before its post_save signal; the
    model's save runs in a transaction, so a failing event takes the change back with it."""
    Product.objects.create(sku="SH-1", name="Shell", price=Decimal("1.00"))
    assert [e.event_type for e in OutboxEvent.objects.all()] == [catalog_events.PRODUCT_CREATED]
    settings.EVENTS_MAX_PAYLOAD_BYTES = 10  # the next event cannot be recorded
    with pytest.raises(InvalidEnvelope):
        Product.objects.create(sku="SH-2", name="Shell", price=Decimal("1.00"))
    assert not Product.objects.filter(sku="SH-2").exists()


def test_data_migrations_publish_through_historical_models(db: None) -> None:
    historical_apps = MigrationExecutor(connection).loader.project_state().apps
    HistoricalProduct = historical_apps.get_model("catalog", "Product")
    assert HistoricalProduct is not Product
    bridge._start_migration_bridge()
    try:
        product = HistoricalProduct.objects.create(sku="MIG-1", name="Migrated", price=Decimal("2.00"))
    finally:
        bridge._stop_migration_bridge()
    [event] = outbox_for(product.pk)
    assert event.event_type == catalog_events.PRODUCT_CREATED
    assert event.payload["sku"] == "MIG-1"
    # Outside `migrate`, historical models are not bridged.
    HistoricalProduct.objects.create(sku="MIG-2", name="Later", price=Decimal("2.00"))
    assert not OutboxEvent.objects.filter(payload__sku="MIG-2").exists()


# --- correlation ids, pruning ------------------------------------------------------------------


def test_correlation_id_is_echoed_or_generated(client) -> None:
    assert client.get("/health/", HTTP_X_CORRELATION_ID="abc-123")[HEADER] == "abc-123"
    generated = client.get("/health/", HTTP_X_CORRELATION_ID="bad id\nwith newline")[HEADER]
    assert uuid.UUID(generated)


def test_prune_deletes_only_old_sent_rows(db: None) -> None:
    with transaction.atomic():
        old, recent, pending = (
            record_event(topic="catalog.product", event_type="catalog.product.updated", aggregate_id=str(n), payload={})
            for n in range(3)
        )
    OutboxEvent.objects.filter(pk=old.pk).update(sent_at=timezone.now() - timedelta(days=10))
    OutboxEvent.objects.filter(pk=recent.pk).update(sent_at=timezone.now())
    assert prune_sent(timezone.now() - timedelta(days=3)) == 1
    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {recent.pk, pending.pk}


# --- writes that send no signals: the bridged manager records or refuses them --------------------


def test_bulk_create_records_every_created_event_in_one_outbox_insert(db: None, category) -> None:
    products = [Product(sku=f"BULK-{n}", name=f"Bulk {n}", price=Decimal("2.00"), category=category) for n in range(3)]
    with CaptureQueriesContext(connection) as queries:
        Product.objects.bulk_create(products)
    outbox_inserts = [q for q in queries if q["sql"].startswith('INSERT INTO "events_outboxevent"')]
    assert len(outbox_inserts) == 1
    for product in products:
        [event] = outbox_for(product.pk)
        assert event.event_type == catalog_events.PRODUCT_CREATED
        assert event.payload["sku"] == product.sku and event.payload["updated_at"]


def test_bulk_update_records_updated_events(make_product) -> None:
    products = [make_product(), make_product()]
    for product in products:
        product.stock_quantity = 42
    assert Product.objects.bulk_update(products, ["stock_quantity"]) == 2
    for product in products:
        event = outbox_for(product.pk)[-1]
        assert (event.event_type, event.payload["stock_quantity"]) == (catalog_events.PRODUCT_UPDATED, 42)


def test_queryset_update_is_refused_and_update_with_events_records(make_product) -> None:
    product = make_product(name="Before")
    with pytest.raises(bridge.EventlessWrite, match=r"update_with_events.*docs/events.md"):
        Product.objects.filter(pk=product.pk).update(name="Silent")
    with pytest.raises(bridge.EventlessWrite):
        Product.objects.update(name="Silent")
    product.refresh_from_db()
    assert product.name == "Before"
    assert Product.objects.filter(pk=product.pk).update_with_events(name="After") == 1
    event = outbox_for(product.pk)[-1]
    assert (event.event_type, event.payload["name"]) == (catalog_events.PRODUCT_UPDATED, "After")


def test_bulk_create_that_may_skip_rows_is_refused(db: None) -> None:
    with pytest.raises(bridge.EventlessWrite, match="ignore_conflicts"):
        Product.objects.bulk_create([Product(sku="IGN-1", name="x", price=Decimal("1"))], ignore_conflicts=True)
    assert not OutboxEvent.objects.exists()


# --- a consumer reacting to an event: domain errors, causation, actor ------------------------------


def test_a_consumer_catches_conflict_and_records_a_reply_caused_by_the_event(make_product) -> None:
    """A handler calls a command; "not enough stock" is a plain `Conflict` with its data, so the
    handler can answer with an event instead of failing into the dead-letter topic. What it
    records names the handled event as its cause and acts for that event's actor."""
    from common.errors import Conflict
    from common.events.handlers import Registration
    from common.events.processing import apply_event

    product = make_product(stock_quantity=2)
    replies: list[dict] = []

    def reserve(event: Envelope) -> None:
        try:
            commands.adjust_stock(product_id=event.payload["product_id"], delta=-event.payload["quantity"])
        except Conflict as refusal:
            replies.append(refusal.data)
            record_event(
                topic="catalog.stock", event_type="catalog.stock.rejected", aggregate_id=event.aggregate_id,
                payload={"order_id": event.aggregate_id, "reason": refusal.message, **refusal.data},
            )

    order_id, buyer = str(uuid.uuid4()), str(uuid.uuid4())
    placed = Envelope(
        event_id=uuid.uuid4(), event_type="orders.order.placed", schema_version=1, aggregate_id=order_id,
        occurred_at=timezone.now(), producer="orders", correlation_id="checkout-9", actor=buyer,
        payload={"product_id": str(product.pk), "quantity": 5},
    )
    apply_event(placed, [Registration(name="tests.reserve", handler=reserve, reset=None)])
    assert replies == [{"available": 2, "requested": 5}]
    [rejected] = outbox_for(order_id)
    assert rejected.payload["available"] == 2 and rejected.payload["reason"] == "Not enough stock."
    assert (rejected.causation_id, rejected.actor, rejected.correlation_id) == (placed.event_id, buyer, "checkout-9")
    product.refresh_from_db()
    assert product.stock_quantity == 2

