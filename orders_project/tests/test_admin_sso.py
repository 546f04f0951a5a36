"""Order staff sign in to the orders admin with their accounts token (single sign-on), and see
orders with the view permission only; customers are not staff."""

from __future__ import annotations

import pytest
from common.auth.roles import ORDER_MANAGER
from django.test import Client

pytestmark = pytest.mark.django_db

ORDERS = "/admin/orders/order/"
MANAGER_PERMS = ["orders.view_order", "orders.change_order", "orders.change_order_status"]


def test_an_order_manager_signs_in_and_sees_orders(client: Client, tokens, customer, shop):
    shop.cart(customer.user_id, {shop.product(): 1})
    order_id = customer.place()["id"]
    manager = tokens.mint(roles=[ORDER_MANAGER], perms=MANAGER_PERMS, staff=True, email="otto@example.com")
    assert client.post("/admin/sso/", {"token": manager.token}).status_code == 302
    assert client.get(ORDERS).status_code == 200
    assert order_id in client.get(ORDERS).content.decode()
    assert client.get(f"{ORDERS}{order_id}/change/").status_code == 200


def test_customers_are_not_staff(client: Client, tokens):
    customer = tokens.mint(roles=["customer"], staff=False)
    assert client.post("/admin/sso/", {"token": customer.token}).status_code == 403
    assert client.get(ORDERS).status_code == 302  # to the login page
