"""logout, logoutAllSessions, changePassword: ending sessions ends every token of them."""

from __future__ import annotations

import pytest
from accounts.models import Session
from common.auth import registry

from tests.helpers import ME, PASSWORD, REFRESH

pytestmark = pytest.mark.django_db

LOGOUT = "mutation { logout { endedSessions } }"
LOGOUT_ALL = "mutation { logoutAllSessions { endedSessions } }"
CHANGE_PASSWORD = """
mutation Change($current: String!, $new: String!) {
  changePassword(currentPassword: $current, newPassword: $new) { endedSessions }
}
"""
SESSIONS = "{ me { sessions { id current } } }"


def test_logout_kills_access_and_refresh_tokens_of_this_session_only(gql, new_gql, user, recorded_events):
    this = gql.login("casey@example.com")
    other_client = new_gql()
    other = other_client.login("casey@example.com")

    assert gql.data(LOGOUT, token=this["accessToken"])["logout"] == {"endedSessions": 1}

    assert gql.error(ME, token=this["accessToken"])["extensions"]["code"] == "UNAUTHENTICATED"
    assert "session ended" in gql.error(ME, token=this["accessToken"])["message"]
    assert gql.error(REFRESH, {"token": this["refreshToken"]})["extensions"]["code"] == "UNAUTHENTICATED"
    assert not registry.is_session_alive(this["session"]["id"])
    assert Session.objects.get(pk=this["session"]["id"]).revoke_reason == "logout"
    assert recorded_events.event_types() == ["accounts.session.revoked"]
    # The other device is untouched.
    assert other_client.data(ME, token=other["accessToken"])["me"]["email"] == "casey@example.com"


def test_logout_needs_a_signed_in_caller(gql):
    assert gql.error(LOGOUT)["extensions"]["code"] == "UNAUTHENTICATED"


def test_logout_all_sessions_ends_every_session(gql, new_gql, user):
    devices = [new_gql() for _ in range(3)]
    logins = [device.login("casey@example.com") for device in devices]
    assert gql.data(LOGOUT_ALL, token=logins[0]["accessToken"])["logoutAllSessions"] == {"endedSessions": 3}
    for device, login in zip(devices, logins, strict=True):
        assert device.error(ME, token=login["accessToken"])["extensions"]["code"] == "UNAUTHENTICATED"
        assert device.error(REFRESH, {"token": login["refreshToken"]})["extensions"]["code"] == "UNAUTHENTICATED"
    assert not Session.objects.alive().exists()
    assert registry.client().scard(registry.user_sessions_key(str(user.pk))) == 0


def test_me_lists_live_sessions_and_marks_the_current_one(gql, new_gql, user):
    first = gql.login("casey@example.com")
    new_gql().login("casey@example.com")
    sessions = gql.data(SESSIONS, token=first["accessToken"])["me"]["sessions"]
    assert len(sessions) == 2
    assert [s["id"] for s in sessions if s["current"]] == [first["session"]["id"]]


def test_change_password_ends_the_other_sessions_and_keeps_this_one(gql, new_gql, user, recorded_events):
    here = gql.login("casey@example.com")
    elsewhere_client = new_gql()
    elsewhere = elsewhere_client.login("casey@example.com")

    new_password = "Another-sturdy-pass-77"
    result = gql.data(CHANGE_PASSWORD, {"current": PASSWORD, "new": new_password}, token=here["accessToken"])
    assert result["changePassword"] == {"endedSessions": 1}

    assert gql.data(ME, token=here["accessToken"])["me"]["email"] == "casey@example.com"
    assert gql.data(REFRESH, {"token": here["refreshToken"]})["refreshToken"]["accessToken"]
    assert elsewhere_client.error(ME, token=elsewhere["accessToken"])["extensions"]["code"] == "UNAUTHENTICATED"
    assert Session.objects.get(pk=elsewhere["session"]["id"]).revoke_reason == "password_changed"
    assert recorded_events.event_types() == ["accounts.session.revoked"]

    assert new_gql().login("casey@example.com", new_password)
    error = new_gql().error(
        "mutation($e:String!,$p:String!){login(email:$e,password:$p){accessToken}}", {"e": "casey@example.com", "p": PASSWORD}
    )
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


def test_change_password_with_a_wrong_current_password(gql, new_gql, user):
    here = gql.login("casey@example.com")
    other = new_gql().login("casey@example.com")
    error = gql.error(CHANGE_PASSWORD, {"current": "Not-the-password-1", "new": "Whatever-sturdy-99"}, token=here["accessToken"])
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"] == {"currentPassword": ["Incorrect password."]}
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert registry.is_session_alive(other["session"]["id"])


def test_change_password_rejects_a_weak_or_unchanged_password(gql, user):
    token = gql.login("casey@example.com")["accessToken"]
    weak = gql.error(CHANGE_PASSWORD, {"current": PASSWORD, "new": "123"}, token=token)
    assert weak["extensions"]["code"] == "BAD_USER_INPUT" and "newPassword" in weak["extensions"]["fields"]
    same = gql.error(CHANGE_PASSWORD, {"current": PASSWORD, "new": PASSWORD}, token=token)
    assert same["extensions"]["code"] == "BAD_USER_INPUT"
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_guessing_the_current_password_is_rate_limited(gql, user, settings):
    settings.ACCOUNTS_LOGIN_MAX_FAILURES_PER_ACCOUNT = 2
    token = gql.login("casey@example.com")["accessToken"]
    for _ in range(2):
        gql.error(CHANGE_PASSWORD, {"current": "Guess-guess-123", "new": "Whatever-sturdy-99"}, token=token)
    error = gql.error(CHANGE_PASSWORD, {"current": PASSWORD, "new": "Whatever-sturdy-99"}, token=token)
    assert error["extensions"]["code"] == "RATE_LIMITED"


def test_session_fields_resolve_by_converted_names(gql, user):
    """convert_names_case: camelCase fields read snake_case attributes, no renaming resolvers."""
    from accounts.schema.types import session_type

    token = gql.login("casey@example.com", HTTP_USER_AGENT="pytest-agent/1")["accessToken"]
    query = "{ me { fullName dateJoined sessions { createdAt lastUsedAt expiresAt userAgent ipAddress current } } }"
    me = gql.data(query, token=token)["me"]
    [session] = me["sessions"]
    assert me["fullName"] == "Casey Customer" and me["dateJoined"]
    assert session["userAgent"] == "pytest-agent/1" and session["current"] is True
    assert session["createdAt"] <= session["lastUsedAt"] < session["expiresAt"]
    assert set(session_type._resolvers) == {"current"}  # only fields that do more than rename
