"""Staff look up a user's cart in the admin (read only), signed in with accounts credentials."""

from __future__ import annotations

import datetime as dt

import pytest
from common.auth.replica.sync import apply_user_event
from django.test import Client

from tests.conftest import ADD

pytestmark = pytest.mark.django_db

LOOKUP = "/admin/cart/cart/"


def registered(user_id: str, email: str, **snapshot) -> None:
    apply_user_event(event_type="accounts.user.registered", user_id=user_id, occurred_at=dt.datetime.now(dt.UTC),
                     payload={"user": {"id": user_id, "email": email, "is_active": True, **snapshot}})


def signed_in(tokens, *, roles: list[str], perms: list[str]) -> Client:
    staff = tokens.mint(roles=roles, perms=perms, staff=True)
    client = Client()
    assert client.post("/admin/sso/", {"token": staff.token}).status_code == 302
    return client


def test_order_manager_looks_up_a_cart_by_email_and_by_id(gql, product, catalog_event, tokens):
    lamp = product(name="Desk lamp", price="12.50")
    shopper = tokens.mint(email="pat@example.com")
    registered(shopper.user_id, "pat@example.com")
    gql.as_token(shopper.token).data(ADD, {"p": lamp, "q": 3})
    client = signed_in(tokens, roles=["order_manager"], perms=["cart.view_cart"])

    index = client.get("/admin/")
    assert index.status_code == 200 and LOOKUP in index.content.decode()
    for term in ("PAT@example.com", shopper.user_id):
        page = client.get(LOOKUP, {"q": term})
        assert page.status_code == 200
        html = page.content.decode()
        assert f"user-{shopper.user_id}" in html and "Desk lamp" in html and "12.50" in html and "pat@example.com" in html
    assert "No cart found" in client.get(LOOKUP, {"q": "nobody@example.com"}).content.decode()
    # Read only: nothing to add, change or delete.
    assert client.get(LOOKUP + "add/").status_code in (302, 403, 404)


def test_staff_without_cart_view_cart_cannot_look(tokens):
    client = signed_in(tokens, roles=["catalog_manager"], perms=["catalog.change_product"])
    assert client.get(LOOKUP, {"q": "pat@example.com"}).status_code == 403
