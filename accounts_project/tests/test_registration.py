"""register: a customer account, or a GraphQL error with a code and nothing written."""

from __future__ import annotations

import pytest
from accounts.models import User

from tests.helpers import ME, PASSWORD

pytestmark = pytest.mark.django_db

REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) { user { id email fullName roles permissions isActive isStaff } }
}
"""


def test_register_creates_an_active_customer_who_can_log_in(gql, recorded_events):
    user = gql.data(REGISTER, {"input": {"email": "  New.Person@Example.COM ", "password": PASSWORD, "fullName": "New"}})[
        "register"
    ]["user"]
    assert user["email"] == "new.person@example.com"
    assert user["roles"] == ["customer"]
    assert user["permissions"] == ["orders.add_order"]
    assert user["isActive"] is True and user["isStaff"] is False
    stored = User.objects.get(pk=user["id"])
    assert stored.password.startswith("argon2$")
    assert recorded_events.event_types() == ["accounts.user.created", "accounts.user.updated", "accounts.user.registered"]
    registered = recorded_events[2]
    payload = registered["payload"]["user"]
    assert payload["id"] == user["id"] and payload["roles"] == ["customer"] and registered["topic"] == "accounts.user"
    assert registered["producer"] == "accounts" and registered["aggregate_id"] == user["id"]
    assert recorded_events[1]["payload"] == payload  # model state and domain event agree on the user

    login = gql.login("NEW.person@example.com")
    assert gql.data(ME, token=login["accessToken"])["me"]["id"] == user["id"]


def test_a_taken_email_answers_like_a_new_registration(gql, user, recorded_events):
    # Issue 13: CONFLICT told anyone which emails have accounts. Now the answer has the same shape and
    # values, nothing is written, and the owner is told by an event instead.
    fresh = gql.data(REGISTER, {"input": {"email": "fresh@example.com", "password": PASSWORD}})["register"]["user"]
    taken = gql.data(REGISTER, {"input": {"email": "CASEY@example.com", "password": PASSWORD}})["register"]["user"]
    assert set(taken) == set(fresh)
    assert taken["id"] != str(user.pk)
    same = ("fullName", "roles", "permissions", "isActive", "isStaff")
    assert {k: taken[k] for k in same} == {k: fresh[k] for k in same}
    assert taken["email"] == "casey@example.com"
    assert User.objects.filter(email="casey@example.com").count() == 1
    assert not User.objects.filter(pk=taken["id"]).exists()
    assert "accounts.user.registration_attempted" in recorded_events.event_types()
    attempted = [e for e in recorded_events if e["event_type"] == "accounts.user.registration_attempted"]
    assert len(attempted) == 1 and attempted[0]["aggregate_id"] == str(user.pk)
    # The taken email wrote nothing else: the only other events are the fresh account's.
    others = {e["aggregate_id"] for e in recorded_events if e["event_type"] != "accounts.user.registration_attempted"}
    assert others == {fresh["id"]}
    # The real owner's password still works; the would-be registrant's does not.
    assert gql.login("casey@example.com")["user"]["id"] == str(user.pk)


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("short1!", "too short"),
        ("password123", "too common"),
        ("48291736450192", "entirely numeric"),
        ("jordan.smith@example.com", "too similar"),
    ],
)
def test_weak_password_is_bad_user_input_and_nothing_is_written(gql, recorded_events, password, fragment):
    error = gql.error(REGISTER, {"input": {"email": "jordan.smith@example.com", "password": password}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert any(fragment in message for message in error["extensions"]["fields"]["password"]), error
    assert not User.objects.exists()
    assert recorded_events == []


def test_invalid_email_and_long_name_are_reported_per_field(gql):
    error = gql.error(REGISTER, {"input": {"email": "not-an-email", "password": PASSWORD, "fullName": "x" * 151}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert set(error["extensions"]["fields"]) == {"email", "fullName"}
    assert not User.objects.exists()


def test_registrations_per_address_are_limited(gql, settings):
    settings.ACCOUNTS_REGISTRATIONS_PER_IP = 2
    for n in range(2):
        gql.data(REGISTER, {"input": {"email": f"spam{n}@example.com", "password": PASSWORD}}, REMOTE_ADDR="198.51.100.7")
    error = gql.error(REGISTER, {"input": {"email": "spam9@example.com", "password": PASSWORD}}, REMOTE_ADDR="198.51.100.7")
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["retryAfter"] > 0
    # Another address is not affected.
    gql.data(REGISTER, {"input": {"email": "fine@example.com", "password": PASSWORD}}, REMOTE_ADDR="198.51.100.8")
