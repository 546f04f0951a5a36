"""Deactivation blocks a user everywhere at once, whichever path does it (command, admin, CLI)."""

from __future__ import annotations

from io import StringIO

import pytest
from accounts import commands
from accounts.models import Session, User
from common.auth import registry
from django.core.management import CommandError, call_command

from tests.helpers import LOGIN, ME, PASSWORD

pytestmark = pytest.mark.django_db


def sessions_of(user: User) -> list[Session]:
    return list(Session.objects.filter(user=user))


def assert_blocked(gql, user: User, logins: list[dict]) -> None:
    user.refresh_from_db()
    assert user.is_active is False
    assert not registry.is_user_active(str(user.pk))
    for login in logins:
        assert not registry.is_session_alive(login["session"]["id"])
        assert gql.error(ME, token=login["accessToken"])["extensions"]["code"] == "UNAUTHENTICATED"
    assert all(s.revoke_reason == "deactivated" for s in sessions_of(user))
    error = gql.error(LOGIN, {"email": user.email, "password": PASSWORD})
    assert error["message"] == "Invalid email or password."


def test_deactivate_command_blocks_tokens_sessions_and_login(gql, new_gql, user, recorded_events):
    logins = [new_gql().login("casey@example.com") for _ in range(2)]
    commands.deactivate_user(user_id=str(user.pk))
    assert_blocked(gql, user, logins)
    assert sorted(recorded_events.event_types()) == [
        "accounts.session.revoked",
        "accounts.session.revoked",
        "accounts.user.deactivated",
    ]
    deactivated = next(e for e in recorded_events if e["event_type"] == "accounts.user.deactivated")
    assert deactivated["aggregate_id"] == str(user.pk) and deactivated["payload"]["user"]["is_active"] is False


def test_deactivating_twice_records_one_event(user, recorded_events):
    commands.deactivate_user(user_id=str(user.pk))
    commands.deactivate_user(user_id=str(user.pk))
    assert recorded_events.event_types().count("accounts.user.deactivated") == 1


def test_a_token_whose_session_survived_is_still_refused_for_an_inactive_user(gql, user):
    login = gql.login("casey@example.com")
    registry.set_user_active(user_id=str(user.pk), active=False)  # the flag alone is enough
    error = gql.error(ME, token=login["accessToken"])
    assert error["extensions"]["code"] == "UNAUTHENTICATED" and "user inactive" in error["message"]


def test_reactivation_lets_the_user_in_again(gql, user, recorded_events):
    commands.deactivate_user(user_id=str(user.pk))
    commands.reactivate_user(user_id=str(user.pk))
    assert registry.is_user_active(str(user.pk))
    assert gql.login("casey@example.com")["accessToken"]
    assert "accounts.user.reactivated" in recorded_events.event_types()


def test_management_command(gql, user):
    login = gql.login("casey@example.com")
    out = StringIO()
    call_command("deactivate_user", "CASEY@example.com", stdout=out)
    assert "inactive" in out.getvalue()
    assert_blocked(gql, user, [login])
    call_command("deactivate_user", "casey@example.com", "--reactivate", stdout=out)
    assert registry.is_user_active(str(user.pk))
    with pytest.raises(CommandError):
        call_command("deactivate_user", "nobody@example.com", stdout=out)


def admin_change_form(user: User, **overrides) -> dict:
    """The POST the admin change form sends (inline of live sessions included)."""
    alive = list(Session.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at"))
    data = {
        "email": user.email,
        "full_name": user.full_name,
        "groups": [g.pk for g in user.groups.all()],
        "user_permissions": [],
        "sessions-TOTAL_FORMS": str(len(alive)),
        "sessions-INITIAL_FORMS": str(len(alive)),
        "sessions-MIN_NUM_FORMS": "0",
        "sessions-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    if user.is_active:
        data["is_active"] = "on"
    if user.is_staff:
        data["is_staff"] = "on"
    for index, session in enumerate(alive):
        data[f"sessions-{index}-id"] = str(session.pk)
        data[f"sessions-{index}-user"] = str(user.pk)
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_unticking_active_in_the_admin_goes_through_the_command(admin_client, new_gql, user, recorded_events):
    login = new_gql().login("casey@example.com")
    response = admin_client.post(f"/admin/accounts/user/{user.pk}/change/", admin_change_form(user, is_active=None))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert_blocked(new_gql(), user, [login])
    assert "accounts.user.deactivated" in recorded_events.event_types()


def test_admin_action_deactivates(admin_client, new_gql, user, recorded_events):
    login = new_gql().login("casey@example.com")
    response = admin_client.post(
        "/admin/accounts/user/", {"action": "deactivate_users", "_selected_action": [str(user.pk)]}
    )
    assert response.status_code == 302
    assert_blocked(new_gql(), user, [login])


def test_role_change_in_the_admin_records_roles_changed(admin_client, user, recorded_events):
    from django.contrib.auth.models import Group

    manager = Group.objects.get(name="catalog_manager")
    data = admin_change_form(user, groups=[manager.pk], is_staff="on")
    assert admin_client.post(f"/admin/accounts/user/{user.pk}/change/", data).status_code == 302
    changed = [e for e in recorded_events if e["event_type"] == "accounts.user.roles_changed"]
    assert len(changed) == 1
    payload = changed[0]["payload"]
    assert payload["user"]["roles"] == ["catalog_manager"] and payload["user"]["is_staff"] is True
    assert payload["previous"]["roles"] == ["customer"]
    assert "catalog.add_product" in payload["user"]["perms"]


def test_saving_without_changes_records_nothing(admin_client, user, recorded_events):
    assert admin_client.post(f"/admin/accounts/user/{user.pk}/change/", admin_change_form(user)).status_code == 302
    assert recorded_events == []


def test_changing_a_roles_permissions_in_the_admin_notifies_its_members(admin_client, make_user, recorded_events):
    from accounts.models import ServicePermission
    from django.contrib.auth.models import Group

    members = [make_user(roles=("order_manager",)) for _ in range(2)]
    make_user(roles=("customer",))  # not a member: no event
    role = Group.objects.get(name="order_manager")
    wanted = list(role.service_permissions.values_list("pk", flat=True))
    wanted.append(ServicePermission.objects.get(codename="catalog.view_product").pk)
    response = admin_client.post(
        f"/admin/auth/group/{role.pk}/change/", {"name": "order_manager", "service_permissions": wanted, "permissions": []}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert "catalog.view_product" in role.service_permissions.values_list("codename", flat=True)
    changed = [e for e in recorded_events if e["event_type"] == "accounts.user.roles_changed"]
    assert sorted(e["aggregate_id"] for e in changed) == sorted(str(m.pk) for m in members)
