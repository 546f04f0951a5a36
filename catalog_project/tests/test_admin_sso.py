"""Staff sign in to the catalog admin with their accounts credentials (single sign-on)."""

from __future__ import annotations

import time

import pytest
from common.auth import registry
from common.auth.replica.models import User
from common.auth.testing import user_event
from django.test import Client

pytestmark = pytest.mark.django_db

PRODUCTS = "/admin/catalog/product/"
MANAGER_PERMS = ["catalog.add_product", "catalog.change_product", "catalog.delete_product"]


@pytest.fixture
def staff(tokens):
    """A catalog manager known to this service through the accounts `registered` event."""
    minted = tokens.mint(roles=["catalog_manager"], perms=MANAGER_PERMS, staff=True, email="kim@example.com")
    user_event("registered", minted.user_id, email="kim@example.com", is_active=True, is_staff=True,
               roles=["catalog_manager"], perms=MANAGER_PERMS)
    return minted


def sso(client: Client, token: str, next_url: str = ""):
    return client.post("/admin/sso/", {"token": token, "next": next_url})


def test_token_sign_in_opens_the_admin(client, staff):
    response = sso(client, staff.token, PRODUCTS)
    assert response.status_code == 302
    assert response["Location"] == PRODUCTS
    assert client.get(PRODUCTS).status_code == 200
    assert client.session["_auth_user_id"] == staff.user_id
    assert client.session["_accounts_sid"] == staff.session_id


def test_bearer_header_works_too(client, staff):
    response = client.post("/admin/sso/", HTTP_AUTHORIZATION=f"Bearer {staff.token}")
    assert response.status_code == 302
    assert client.get(PRODUCTS).status_code == 200


def test_deactivated_user_cannot_sign_in(client, staff):
    # The registry says so at once, before the `deactivated` event reaches this service.
    registry.set_user_active(user_id=staff.user_id, active=False)
    assert sso(client, staff.token).status_code == 401
    assert client.get(PRODUCTS).status_code == 302  # to the login page


def test_user_deactivated_in_the_replica_cannot_sign_in(client, staff):
    user_event("deactivated", staff.user_id, email="kim@example.com", is_active=False)
    assert sso(client, staff.token).status_code == 401


def test_invalid_token_cannot_sign_in(client, staff):
    assert sso(client, staff.token[:-4] + "AAAA").status_code == 401
    assert client.post("/admin/sso/").status_code == 401


def test_customers_are_not_staff(client, tokens):
    customer = tokens.mint(roles=["customer"], staff=False)
    assert sso(client, customer.token).status_code == 403
    assert client.get(PRODUCTS).status_code == 302


def test_first_sign_in_before_the_registered_event_creates_the_replica(client, tokens):
    minted = tokens.mint(roles=["catalog_manager"], perms=MANAGER_PERMS, staff=True, email="new@example.com")
    assert sso(client, minted.token).status_code == 302
    user = User.objects.get(pk=minted.user_id)
    assert (user.email, user.is_staff, user.roles) == ("new@example.com", True, ["catalog_manager"])
    assert client.get(PRODUCTS).status_code == 200


def test_newer_token_refreshes_a_stale_replica(client, tokens):
    # Signed in once as a customer; accounts then made the user staff, but no event arrived yet.
    customer = tokens.mint(roles=["customer"], staff=False, email="lee@example.com")
    assert sso(client, customer.token).status_code == 403
    promoted = tokens.mint(user_id=customer.user_id, roles=["catalog_manager"], perms=MANAGER_PERMS, staff=True,
                           email="lee@example.com", now=time.time() + 1)
    assert sso(client, promoted.token).status_code == 302
    assert client.get(PRODUCTS).status_code == 200


def test_older_token_does_not_undo_a_later_event(client, staff):
    # After the token was issued, accounts took the staff flag away and the event arrived.
    user_event("roles_changed", staff.user_id, email="kim@example.com", is_staff=False, roles=["customer"], perms=[])
    assert sso(client, staff.token).status_code == 403
    assert User.objects.get(pk=staff.user_id).roles == ["customer"]


def test_no_open_redirect(client, staff):
    assert sso(client, staff.token, "https://evil.example/").headers["Location"] == "/admin/"


def test_admin_session_ends_when_the_user_is_deactivated(client, staff):
    sso(client, staff.token)
    assert client.get(PRODUCTS).status_code == 200
    registry.set_user_active(user_id=staff.user_id, active=False)
    deadline = time.monotonic() + 1.0
    while client.get(PRODUCTS).status_code == 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert client.get(PRODUCTS).status_code == 302


def test_admin_session_ends_with_the_accounts_session(client, staff):
    sso(client, staff.token)
    assert client.get(PRODUCTS).status_code == 200
    registry.end_session(session_id=staff.session_id)  # logout in accounts
    deadline = time.monotonic() + 1.0
    while client.get(PRODUCTS).status_code == 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert "_accounts_sid" not in client.session


def test_role_change_reaches_the_admin_through_events(client, staff):
    sso(client, staff.token)
    assert client.get(PRODUCTS).status_code == 200
    user_event("roles_changed", staff.user_id, email="kim@example.com", is_staff=True, roles=["order_manager"],
               perms=["orders.view_order"])
    assert client.get(PRODUCTS).status_code == 403
    user_event("roles_changed", staff.user_id, email="kim@example.com", is_staff=False, roles=["customer"], perms=[])
    assert client.get(PRODUCTS).status_code == 302  # no longer staff: back to the login page


# --- the admin login form, backed by the accounts `login` mutation ----------------------------------


@pytest.fixture
def staff_account(accounts_stub, staff):
    accounts_stub.add_account(
        "kim@example.com", "correct horse battery", user_id=staff.user_id, roles=["catalog_manager"],
        perms=MANAGER_PERMS, staff=True,
    )
    return staff


def login_form(client: Client, email: str, password: str):
    return client.post("/admin/login/?next=/admin/", {"username": email, "password": password, "next": "/admin/"})


def test_admin_login_form_signs_in_through_accounts(client, staff_account, accounts_stub):
    response = login_form(client, "kim@example.com", "correct horse battery")
    assert response.status_code == 302, response.content.decode()[:500]
    assert client.get(PRODUCTS).status_code == 200
    sent = accounts_stub.login_requests[-1]
    assert sent["body"]["variables"] == {"email": "kim@example.com", "password": "correct horse battery"}
    assert sent["forwarded_for"] == "127.0.0.1"
    # The admin session follows the accounts session that login opened.
    assert client.session["_accounts_sid"]


def test_admin_login_form_rejects_wrong_password(client, staff_account):
    response = login_form(client, "kim@example.com", "wrong")
    assert response.status_code == 200
    assert "Please enter the correct email" in response.content.decode()
    assert client.get(PRODUCTS).status_code == 302


def test_admin_login_form_rejects_deactivated_user(client, staff_account):
    registry.set_user_active(user_id=staff_account.user_id, active=False)
    response = login_form(client, "kim@example.com", "correct horse battery")
    assert response.status_code == 200
    assert client.get(PRODUCTS).status_code == 302


def test_the_admin_names_its_service_and_explains_an_empty_index(admin_client, client, django_user_model):
    page = admin_client.get("/admin/").content.decode()
    assert "<title>Catalog service | Catalog admin</title>" in page and "Catalog service administration" in page
    assert "nothing to see or change here" not in page
    # An order manager (replica row: roles and permissions from accounts) has nothing in the catalog.
    orders_staff = django_user_model.objects.create(
        email="orders.staff@example.com", is_staff=True, roles=["order_manager"], permissions=["orders.view_order"]
    )
    client.force_login(orders_staff)
    page = client.get("/admin/").content.decode()
    assert "This is the Catalog service&#x27;s admin" in page and "roles: order_manager" in page
    assert "orders: view_order" in page
