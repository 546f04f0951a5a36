"""Deactivation blocks a user everywhere at once, whichever path does it (command, admin, CLI)."""

from __future__ import annotations

from io import StringIO

import pytest
from accounts import commands
from accounts.models import Session, User
from common.auth import registry
from common.events.bridge import EventlessWrite
from common.events.models import OutboxEvent
from django.contrib.auth.models import Group
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
        "accounts.user.updated",  # the bridge: the row's new state, next to the domain event
    ]
    state = next(e for e in recorded_events if e["event_type"] == "accounts.user.updated")
    assert state["payload"]["is_active"] is False
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


def test_saving_without_changes_records_no_domain_event(admin_client, user, recorded_events):
    assert admin_client.post(f"/admin/accounts/user/{user.pk}/change/", admin_change_form(user)).status_code == 302
    # The save itself is a model-state event (the bridge does not diff); nothing was decided.
    assert recorded_events.event_types() == ["accounts.user.updated"]


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


# --- the user model is bridged: every write has its model-state event, or is refused --------------


def test_role_changes_from_anywhere_record_the_users_state(user, recorded_events):
    """Roles are part of the published state: a change from the shell (no command) is an event too."""
    user.groups.add(Group.objects.get(name="catalog_manager"))
    [state] = recorded_events
    assert state["event_type"] == "accounts.user.updated"
    assert state["payload"]["roles"] == ["catalog_manager", "customer"]
    Group.objects.get(name="order_manager").user_set.add(user)  # from the role's side
    assert recorded_events[-1]["aggregate_id"] == str(user.pk)
    assert recorded_events[-1]["payload"]["roles"] == ["catalog_manager", "customer", "order_manager"]


def test_user_writes_without_signals_are_refused(user, recorded_events):
    with pytest.raises(EventlessWrite, match="update_with_events"):
        User.objects.filter(pk=user.pk).update(is_active=False)
    assert User.objects.filter(pk=user.pk).update_with_events(full_name="Bulk Name") == 1
    assert [e["payload"]["full_name"] for e in recorded_events] == ["Bulk Name"]


def test_logins_record_no_state_event(gql, user, recorded_events):
    gql.login("casey@example.com")  # saves last_login: not state other services keep
    assert "accounts.user.updated" not in recorded_events.event_types()


def test_an_admin_action_acts_for_the_signed_in_staff_member(admin_client, admin_user, user):
    before = OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    response = admin_client.post(
        "/admin/accounts/user/", {"action": "deactivate_users", "_selected_action": [str(user.pk)]}
    )
    assert response.status_code == 302
    rows = OutboxEvent.objects.filter(id__gt=before, aggregate_id=str(user.pk), event_type__startswith="accounts.user.")
    assert {row.event_type for row in rows} >= {"accounts.user.deactivated", "accounts.user.updated"}
    assert {row.actor for row in rows} == {str(admin_user.pk)}


def test_an_api_caller_is_the_actor_of_what_it_causes(gql, user):
    login = gql.login("casey@example.com")
    gql.data("mutation { logout { endedSessions } }", token=login["accessToken"])
    revoked = OutboxEvent.objects.get(event_type="accounts.session.revoked", aggregate_id=login["session"]["id"])
    assert revoked.actor == str(user.pk) and revoked.causation_id is None
