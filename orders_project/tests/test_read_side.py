"""The read side: myOrders / orders / User.orders from the OrderSummary read model (fed by this
service's own events), keyset pages, constant query counts, and a rebuild equal to the live model."""

from __future__ import annotations

import uuid

import pytest
from common.events.handlers import handlers_for
from common.events.models import OutboxEvent
from common.events.processing import apply_event
from django.core.management import call_command
from orders.models import OrderSummary

from tests.conftest import deliver

pytestmark = pytest.mark.django_db

MY_ORDERS = """
query($first: Int, $after: String, $status: OrderStatus) {
  myOrders(first: $first, after: $after, status: $status) {
    edges { cursor node { id status total { amount currency } createdAt
      items { product { id } productName sku quantity unitPrice { amount currency } lineTotal { amount } }
      shippingAddress { city country } history { fromStatus toStatus actor reason at } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
ORDERS = """
query($filter: OrderFilterInput, $first: Int, $after: String) {
  orders(filter: $filter, first: $first, after: $after) { edges { node { id status } } pageInfo { hasNextPage endCursor } }
}
"""
USER_ORDERS = """
query($reps: [_Any!]!) {
  _entities(representations: $reps) { ... on User { id orders(first: 5) { edges { node { id status } } } } }
}
"""


def project_own_events() -> None:
    """What the consumer does with this service's own orders.order events (in outbox order)."""
    for row in OutboxEvent.objects.filter(topic="orders.order").order_by("id"):
        envelope = row.to_envelope()
        apply_event(envelope, handlers_for(envelope.event_type))


@pytest.fixture
def orders_of(shop):
    def place(gql, count: int, lines: int = 1) -> list[str]:
        products = [shop.product(price=f"{n + 1}.00") for n in range(lines)]
        ids = []
        for _ in range(count):
            shop.cart(gql.user_id, {pid: n + 1 for n, pid in enumerate(products)})
            ids.append(gql.place()["id"])
        project_own_events()
        return ids

    return place


def test_my_orders_pages_newest_first_from_the_read_model(customer, as_user, orders_of):
    mine = orders_of(customer, 5, lines=2)
    orders_of(as_user(), 2)
    first = customer.data(MY_ORDERS, {"first": 3})["myOrders"]
    assert [e["node"]["id"] for e in first["edges"]] == mine[::-1][:3] and first["pageInfo"]["hasNextPage"]
    rest = customer.data(MY_ORDERS, {"first": 3, "after": first["pageInfo"]["endCursor"]})["myOrders"]
    assert [e["node"]["id"] for e in rest["edges"]] == mine[::-1][3:] and not rest["pageInfo"]["hasNextPage"]
    node = first["edges"][0]["node"]
    assert node["total"] == {"amount": "5.00", "currency": "USD"}
    assert [(i["quantity"], i["unitPrice"]["amount"], i["lineTotal"]["amount"]) for i in node["items"]] == [
        (1, "1.00", "1.00"), (2, "2.00", "4.00")]
    assert node["history"][0]["toStatus"] == "PENDING" and node["shippingAddress"]["country"] == "GB"


def test_the_read_model_follows_transitions_and_filters_by_status(customer, orders_of):
    confirmed, pending = orders_of(customer, 2)
    deliver("catalog.stock.reserved", confirmed, {"order_id": confirmed, "lines": []})
    project_own_events()
    assert OrderSummary.objects.get(pk=confirmed).status == "CONFIRMED"
    edges = customer.data(MY_ORDERS, {"status": "CONFIRMED"})["myOrders"]["edges"]
    assert [e["node"]["id"] for e in edges] == [confirmed]
    assert [h["toStatus"] for h in edges[0]["node"]["history"]] == ["PENDING", "CONFIRMED"]
    assert customer.data(MY_ORDERS, {"status": "PENDING"})["myOrders"]["edges"][0]["node"]["id"] == pending


def test_a_page_of_20_orders_with_5_lines_costs_at_most_3_queries(customer, orders_of, django_assert_max_num_queries):
    orders_of(customer, 20, lines=5)
    with django_assert_max_num_queries(3):
        page = customer.data(MY_ORDERS, {"first": 20})["myOrders"]
    assert len(page["edges"]) == 20 and all(len(e["node"]["items"]) == 5 for e in page["edges"])


def test_staff_list_every_order_with_filters(manager, customer, as_user, orders_of):
    mine = orders_of(customer, 2)
    theirs = orders_of(as_user(), 1)
    everything = manager.data(ORDERS, {"first": 10})["orders"]["edges"]
    assert {e["node"]["id"] for e in everything} >= set(mine + theirs)
    only_mine = manager.data(ORDERS, {"filter": {"userId": customer.user_id}})["orders"]["edges"]
    assert {e["node"]["id"] for e in only_mine} == set(mine)
    assert customer.error(ORDERS, {})["extensions"]["code"] == "FORBIDDEN"
    assert manager.error(ORDERS, {"filter": {"userId": "nope"}})["extensions"]["code"] == "BAD_USER_INPUT"
    assert manager.error(ORDERS, {"first": 0})["extensions"]["code"] == "BAD_USER_INPUT"
    assert manager.error(ORDERS, {"after": "garbage"})["extensions"]["code"] == "BAD_USER_INPUT"


def test_user_entity_gains_orders_for_the_user_and_staff_only(customer, manager, as_user, orders_of):
    mine = orders_of(customer, 2)
    reps = {"reps": [{"__typename": "User", "id": customer.user_id}]}
    [entity] = customer.data(USER_ORDERS, reps)["_entities"]
    assert [e["node"]["id"] for e in entity["orders"]["edges"]] == mine[::-1]
    assert len(manager.data(USER_ORDERS, reps)["_entities"][0]["orders"]["edges"]) == 2
    assert as_user().error(USER_ORDERS, reps)["extensions"]["code"] == "FORBIDDEN"


def test_anonymous_callers_see_no_orders(anonymous):
    assert anonymous.error(MY_ORDERS, {})["extensions"]["code"] == "UNAUTHENTICATED"
    assert anonymous.error("query($id: ID!) { order(id: $id) { id } }", {"id": str(uuid.uuid4())})["extensions"]["code"] == \
        "UNAUTHENTICATED"


def test_subgraph_sdl_declares_the_entities_and_list_sizes(anonymous):
    sdl = anonymous.data("{ _service { sdl } }")["_service"]["sdl"]
    assert 'type User  @key(fields: "id")' in sdl or 'type User @key(fields: "id")' in sdl
    assert '@key(fields: "id", resolvable: false)' in sdl
    assert sdl.count("@listSize(slicingArguments: [\"first\"], sizedFields: [\"edges\"])") == 3
    assert "type Money @shareable" in sdl


def test_migrations_cover_every_model_change():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_health_checks_the_database(client):
    response = client.get("/health/")
    assert response.status_code == 200 and response.json()["checks"]["database"]["status"] == "ok"


def test_admin_pages_load_and_are_read_only(admin_client, customer, orders_of):
    [order_id] = orders_of(customer, 1, lines=2)
    for url in ("/admin/orders/order/", "/admin/orders/order/?status__exact=PENDING", f"/admin/orders/order/{order_id}/change/",
                "/admin/orders/ordersummary/", "/admin/orders/productreplica/", "/admin/orders/cartreplica/"):
        assert admin_client.get(url).status_code == 200, url
    assert admin_client.get("/admin/orders/order/add/").status_code == 403
    page = admin_client.get(f"/admin/orders/order/{order_id}/change/").content.decode()
    assert "PENDING" in page and "placed" in page


def test_metrics_show_the_outbox_backlog(client, customer, shop, read_metrics):
    shop.cart(customer.user_id, {shop.product(): 1})
    customer.place()
    assert "outbox" in read_metrics(client)
