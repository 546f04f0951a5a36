"""What staff and engineers touch: migrations, health, admin pages, seed and registry commands, the GraphQL view."""

from __future__ import annotations

import importlib
import logging
from io import StringIO

import pytest
from accounts import commands
from accounts.models import ServicePermission, Session, User
from accounts.schema import context_for, schema
from common.auth import registry
from common.graphql.ariadne_view import ariadne_view
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import RequestFactory

from tests.helpers import ME, claims_of

pytestmark = pytest.mark.django_db


def test_migrations_cover_every_model_change():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_roles_and_their_permissions_come_from_the_data_migration():
    roles = {group.name: set(group.service_permissions.values_list("codename", flat=True)) for group in Group.objects.all()}
    assert set(roles) >= {"customer", "catalog_manager", "order_manager", "admin"}
    assert roles["catalog_manager"] >= {
        "catalog.add_product", "catalog.change_product", "catalog.delete_product",
        "catalog.add_category", "catalog.change_category", "catalog.delete_category",
    }
    assert "orders.change_order_status" in roles["order_manager"] and "orders.view_order" in roles["order_manager"]
    assert roles["admin"] == set(ServicePermission.objects.values_list("codename", flat=True))
    assert not any(perm.startswith("catalog.") for perm in roles["customer"] | roles["order_manager"])
    # The admin role also runs this service's own admin.
    assert Group.objects.get(name="admin").permissions.filter(codename="change_user").exists()


def test_production_settings_hash_with_argon2_first():
    from accounts_project.settings import base

    assert base.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert base.AUTH_USER_MODEL == "accounts.User"


def test_health_checks_database_and_redis(client):
    body = client.get("/health/").json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok" and body["checks"]["redis"]["status"] == "ok"


def test_seed_creates_one_demo_user_per_role_and_is_idempotent(gql, recorded_events):
    out = StringIO()
    call_command("seed_accounts", if_empty=True, stdout=out)
    assert "customer@example.com" in out.getvalue() and "Customer-demo-pass-1" in out.getvalue()
    assert User.objects.count() == 4
    # Per user: the bridge's model-state events (the row, then its roles), then the domain event.
    per_user = ["accounts.user.created", "accounts.user.updated", "accounts.user.registered"]
    assert [e["event_type"] for e in recorded_events] == per_user * 4
    states = [e for e in recorded_events if e["event_type"] == "accounts.user.updated"]
    assert {(e["payload"]["email"], tuple(e["payload"]["roles"])) for e in states} == {
        ("admin@example.com", ("admin",)), ("catalog.manager@example.com", ("catalog_manager",)),
        ("order.manager@example.com", ("order_manager",)), ("customer@example.com", ("customer",)),
    }
    call_command("seed_accounts", if_empty=True, stdout=out)
    assert User.objects.count() == 4
    expected = {
        ("admin@example.com", "Admin-demo-pass-1"): ["admin"],
        ("catalog.manager@example.com", "Catalog-demo-pass-1"): ["catalog_manager"],
        ("order.manager@example.com", "Orders-demo-pass-1"): ["order_manager"],
        ("customer@example.com", "Customer-demo-pass-1"): ["customer"],
    }
    for (email, password), roles in expected.items():
        assert claims_of(gql.login(email, password)["accessToken"])["roles"] == roles


def test_sync_session_registry_restores_what_redis_lost(gql, user, make_user):
    login = gql.login("casey@example.com")
    inactive = make_user("gone@example.com", is_active=False)
    registry.end_session(session_id=login["session"]["id"])  # as if Redis had been flushed
    registry.set_user_active(user_id=str(inactive.pk), active=True)
    call_command("sync_session_registry", stdout=StringIO())
    assert registry.is_session_alive(login["session"]["id"])
    assert not registry.is_user_active(str(inactive.pk))
    assert gql.data(ME, token=login["accessToken"])["me"]["email"] == "casey@example.com"


def test_sync_session_registry_never_reopens_an_ended_session(gql, user):
    login = gql.login("casey@example.com")
    commands.end_session(session_id=login["session"]["id"])
    call_command("sync_session_registry", stdout=StringIO())
    assert not registry.is_session_alive(login["session"]["id"])


@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        "/admin/accounts/user/",
        "/admin/accounts/user/?q=casey",
        "/admin/accounts/user/?is_active__exact=0",
        "/admin/accounts/user/add/",
        "/admin/accounts/user/{user}/change/",
        "/admin/accounts/user/{user}/password/",
        "/admin/auth/group/",
        "/admin/auth/group/add/",
        "/admin/auth/group/{group}/change/",
        "/admin/accounts/servicepermission/",
        "/admin/accounts/servicepermission/{permission}/change/",
        "/admin/accounts/session/",
        "/admin/accounts/session/?state=alive",
        "/admin/accounts/session/?state=ended",
        "/admin/accounts/session/{session}/change/",
    ],
)
def test_admin_pages_load(admin_client, gql, user, url):
    sid = gql.login("casey@example.com")["session"]["id"]
    url = url.format(
        user=user.pk,
        group=Group.objects.get(name="catalog_manager").pk,
        permission=ServicePermission.objects.get(codename="catalog.add_product").pk,
        session=sid,
    )
    assert admin_client.get(url).status_code == 200


def test_adding_a_user_in_the_admin_records_registered(admin_client, recorded_events):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {"email": "Added@Example.com", "full_name": "Added", "usable_password": "true",
         "password1": "Added-sturdy-pass-5", "password2": "Added-sturdy-pass-5"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    added = User.objects.get(email="added@example.com")
    assert added.password.startswith("argon2$")
    assert [e["event_type"] for e in recorded_events] == ["accounts.user.created", "accounts.user.registered"]
    assert recorded_events[0]["payload"]["email"] == recorded_events[1]["payload"]["user"]["email"] == "added@example.com"


def test_setting_a_password_in_the_admin_ends_the_users_sessions(admin_client, gql, user):
    sid = gql.login("casey@example.com")["session"]["id"]
    response = admin_client.post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"password1": "Reset-by-staff-123", "password2": "Reset-by-staff-123", "usable_password": "true"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Session.objects.get(pk=sid).revoke_reason == "password_changed"
    assert not registry.is_session_alive(sid)


def test_admin_session_action_ends_sessions(admin_client, gql, user):
    sid = gql.login("casey@example.com")["session"]["id"]
    response = admin_client.post("/admin/accounts/session/", {"action": "end_sessions", "_selected_action": [sid]})
    assert response.status_code == 302
    assert Session.objects.get(pk=sid).revoke_reason == "admin" and not registry.is_session_alive(sid)


# --- the ariadne view helper (common.graphql.ariadne_view) ---


def test_graphiql_in_development_only(client):
    assert b"graphiql" in client.get("/graphql/").content.lower()
    view = ariadne_view(schema, explorer=False, context_value=context_for)
    assert view(RequestFactory().get("/graphql/")).status_code == 405


def test_malformed_body_is_a_json_bad_request(client):
    response = client.post("/graphql/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    response = client.post("/graphql/", "query=x", content_type="text/plain")
    assert response.status_code == 400 and response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_syntax_and_validation_errors_have_codes(gql):
    assert gql.error("{ me { ")["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert gql.error("{ me { nope } }")["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_client_errors_are_not_logged_as_server_errors(gql, caplog):
    with caplog.at_level(logging.INFO):
        assert gql.error(ME, HTTP_AUTHORIZATION="Bearer x.y.z")["extensions"]["code"] == "UNAUTHENTICATED"
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_unexpected_failures_are_masked(gql, user, monkeypatch, caplog):
    token = gql.login("casey@example.com")["accessToken"]

    def broken(user_id):
        raise RuntimeError("database password is hunter2")

    # The module, not the QueryType that accounts.schema re-exports under the same name.
    schema_query = importlib.import_module("accounts.schema.query")
    monkeypatch.setattr(schema_query, "user_with_roles", broken)
    body = gql.execute(ME, token=token)
    error = body["errors"][0]
    assert error["message"] == "Internal server error."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "hunter2" not in str(body)
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1 and logged[0].name == "common.graphql"  # once, server-side only


def test_service_permission_strings_are_validated_in_the_admin(admin_client):
    response = admin_client.post("/admin/accounts/servicepermission/add/", {"codename": "Catalog add product", "groups": []})
    assert response.status_code == 200 and b"app label" in response.content
    assert not ServicePermission.objects.filter(codename="Catalog add product").exists()
    response = admin_client.post("/admin/accounts/servicepermission/add/", {"codename": "reviews.add_review", "groups": []})
    assert response.status_code == 302
