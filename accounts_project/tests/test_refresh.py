"""refreshToken: rotation, and theft detection when a used refresh token comes back."""

from __future__ import annotations

import pytest
from accounts.models import Session
from common.auth import registry

from tests.helpers import ME, REFRESH, claims_of

pytestmark = pytest.mark.django_db


def test_refresh_rotates_both_tokens_in_the_same_session(gql, user):
    login = gql.login("casey@example.com")
    refreshed = gql.data(REFRESH, {"token": login["refreshToken"]})["refreshToken"]
    assert refreshed["session"]["id"] == login["session"]["id"]
    assert refreshed["refreshToken"] != login["refreshToken"]
    assert claims_of(refreshed["refreshToken"])["jti"] != claims_of(login["refreshToken"])["jti"]
    assert gql.data(ME, token=refreshed["accessToken"])["me"]["email"] == "casey@example.com"
    # The new refresh token works in turn.
    again = gql.data(REFRESH, {"token": refreshed["refreshToken"]})["refreshToken"]
    session = Session.objects.get(pk=login["session"]["id"])
    assert session.refresh_count == 2 and str(session.refresh_jti) == claims_of(again["refreshToken"])["jti"]


def test_refresh_picks_up_role_changes(gql, user):
    from accounts import commands

    login = gql.login("casey@example.com")
    commands.set_user_roles(user_id=str(user.pk), roles=["customer", "order_manager"])
    refreshed = gql.data(REFRESH, {"token": login["refreshToken"]})["refreshToken"]
    assert claims_of(refreshed["accessToken"])["roles"] == ["customer", "order_manager"]


def test_reusing_a_refresh_token_ends_the_whole_session(gql, user, recorded_events):
    login = gql.login("casey@example.com")
    stolen = login["refreshToken"]
    legit = gql.data(REFRESH, {"token": stolen})["refreshToken"]  # the owner refreshes first

    error = gql.error(REFRESH, {"token": stolen})  # the thief replays the old one
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "already used" in error["message"]

    # Everything of that session is dead now: the owner's fresh tokens too.
    assert gql.error(ME, token=legit["accessToken"])["extensions"]["code"] == "UNAUTHENTICATED"
    assert gql.error(REFRESH, {"token": legit["refreshToken"]})["extensions"]["code"] == "UNAUTHENTICATED"
    session = Session.objects.get(pk=login["session"]["id"])
    assert session.revoked_at is not None and session.revoke_reason == "refresh_reuse"
    assert not registry.is_session_alive(login["session"]["id"])
    assert "accounts.session.revoked" in recorded_events.event_types()
    revoked = next(e for e in recorded_events if e["event_type"] == "accounts.session.revoked")
    assert revoked["payload"]["reason"] == "refresh_reuse" and revoked["aggregate_id"] == login["session"]["id"]


def test_reuse_in_one_session_leaves_other_sessions_alone(gql, new_gql, user):
    laptop = gql.login("casey@example.com")
    phone_client = new_gql()
    phone = phone_client.login("casey@example.com")
    gql.data(REFRESH, {"token": laptop["refreshToken"]})
    gql.error(REFRESH, {"token": laptop["refreshToken"]})
    assert phone_client.data(ME, token=phone["accessToken"])["me"]["email"] == "casey@example.com"


def test_an_access_token_cannot_refresh(gql, user):
    login = gql.login("casey@example.com")
    error = gql.error(REFRESH, {"token": login["accessToken"]})
    assert error["extensions"]["code"] == "UNAUTHENTICATED" and "Not a refresh token" in error["message"]


def test_garbage_refresh_token_is_unauthenticated(gql):
    assert gql.error(REFRESH, {"token": "garbage"})["extensions"]["code"] == "UNAUTHENTICATED"


def test_refresh_of_a_deactivated_user_fails(gql, user):
    from accounts import commands

    login = gql.login("casey@example.com")
    commands.deactivate_user(user_id=str(user.pk))
    assert gql.error(REFRESH, {"token": login["refreshToken"]})["extensions"]["code"] == "UNAUTHENTICATED"


def test_session_lifetime_is_capped_by_its_absolute_maximum(gql, user, settings):
    settings.ACCOUNTS_SESSION_MAX_AGE = 3600
    login = gql.login("casey@example.com")
    refreshed = gql.data(REFRESH, {"token": login["refreshToken"]})["refreshToken"]
    claims = claims_of(refreshed["refreshToken"])
    assert claims["exp"] - claims["iat"] <= 3600


def test_refresh_restores_a_registry_entry_lost_with_redis(gql, user):
    login = gql.login("casey@example.com")
    registry.client().delete(registry.session_key(login["session"]["id"]))  # e.g. Redis was flushed
    refreshed = gql.data(REFRESH, {"token": login["refreshToken"]})["refreshToken"]
    assert gql.data(ME, token=refreshed["accessToken"])["me"] is not None
