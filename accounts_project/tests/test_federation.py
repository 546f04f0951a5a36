"""The User entity: Federation v2 SDL, batched `_entities`, personal fields visible to self and staff only."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db

ENTITIES = """
query Entities($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on User { id email fullName roles permissions isActive } }
}
"""


def representations(ids) -> list[dict[str, str]]:
    return [{"__typename": "User", "id": str(i)} for i in ids]


def test_sdl_links_federation_v2_and_declares_the_user_key(gql):
    sdl = gql.data("{ _service { sdl } }")["_service"]["sdl"]
    assert '@link(url: "https://specs.apollo.dev/federation/v2.6"' in sdl
    assert 'type User @key(fields: "id")' in sdl


@pytest.fixture
def staff_token(gql, make_user) -> str:
    make_user("orders@example.com", roles=("order_manager",), is_staff=True)
    return gql.login("orders@example.com")["accessToken"]


def test_entities_are_loaded_in_one_batch_whatever_their_number(new_gql, make_user, staff_token):
    users = [make_user(f"member{n}@example.com", roles=("customer", "catalog_manager")) for n in range(20)]
    gateway = new_gql()  # no cookies: like the gateway, only the forwarded bearer token

    def run(ids) -> tuple[list, int]:
        with CaptureQueriesContext(connection) as queries:
            data = gateway.data(ENTITIES, {"representations": representations(ids)}, token=staff_token)
        return data["_entities"], len(queries)

    two, queries_for_two = run([u.pk for u in users[:2]])
    assert [e["id"] for e in two] == [str(u.pk) for u in users[:2]]
    twenty, queries_for_twenty = run([u.pk for u in users])
    assert [e["id"] for e in twenty] == [str(u.pk) for u in users]  # order of the representations
    assert twenty[3]["email"] == "member3@example.com"
    assert twenty[3]["roles"] == ["catalog_manager", "customer"]
    assert "catalog.add_product" in twenty[3]["permissions"]
    # users, their groups, the groups' permissions; plus the caller's current grants (2, once per request)
    assert queries_for_twenty == queries_for_two <= 5


def test_unknown_ids_answer_like_hidden_users_and_malformed_ones_are_null(gql, user, staff_token):
    unknown = uuid.uuid4()
    entities = gql.data(
        ENTITIES, {"representations": representations([unknown, "not-a-uuid", user.pk])}, token=staff_token
    )["_entities"]
    # Staff with accounts.view_user: the unknown id has no data, the real user has.
    assert entities[0] == {"id": str(unknown), "email": None, "fullName": None, "roles": None, "permissions": None,
                           "isActive": None}
    assert entities[1] is None and entities[2]["email"] == user.email


def test_entities_are_no_user_id_oracle(new_gql, user, make_user):
    # Issue 13: `id` for existing users, null for unknown ones let anyone probe for user ids.
    other = make_user("probe@example.com")
    token = new_gql().login("probe@example.com")["accessToken"]
    query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id email } } }"
    for caller in ({}, {"token": token}):
        known = new_gql().execute(query, {"r": representations([user.pk])}, **caller)
        unknown_id = uuid.uuid4()
        unknown = new_gql().execute(query, {"r": representations([unknown_id])}, **caller)
        assert known["data"]["_entities"][0]["id"] == str(user.pk)
        assert unknown["data"]["_entities"][0]["id"] == str(unknown_id)
        assert [e["extensions"]["code"] for e in known["errors"]] == [e["extensions"]["code"] for e in unknown["errors"]]
        assert {e["message"] for e in known["errors"]} == {e["message"] for e in unknown["errors"]}
    assert other.pk


@pytest.mark.parametrize(
    "authorization",
    ["Bearer garbage", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "Bearer a.b.c"],
)
def test_entities_with_a_bad_token_are_unauthenticated(new_gql, user, authorization):
    query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id } } }"
    body = new_gql().execute(query, {"r": representations([user.pk])}, HTTP_AUTHORIZATION=authorization)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", body
    assert not (body.get("data") or {}).get("_entities")


def test_entities_with_an_expired_token_are_unauthenticated(gql, user, settings):
    settings.ACCOUNTS_ACCESS_TOKEN_TTL = -60
    token = gql.login("casey@example.com")["accessToken"]
    query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id } } }"
    body = gql.execute(query, {"r": representations([user.pk])}, token=token)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", body


def test_personal_fields_are_forbidden_to_strangers(gql, user, make_user):
    body = gql.execute(ENTITIES, {"representations": representations([user.pk])})
    assert body["data"]["_entities"][0]["id"] == str(user.pk)
    assert body["data"]["_entities"][0]["email"] is None
    assert {error["extensions"]["code"] for error in body["errors"]} == {"FORBIDDEN"}

    make_user("stranger@example.com")
    token = gql.login("stranger@example.com")["accessToken"]
    body = gql.execute(ENTITIES, {"representations": representations([user.pk])}, token=token)
    assert body["data"]["_entities"][0]["email"] is None and body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_user_sees_their_own_entity(gql, user):
    token = gql.login("casey@example.com")["accessToken"]
    entity = gql.data(ENTITIES, {"representations": representations([user.pk])}, token=token)["_entities"][0]
    assert entity["email"] == "casey@example.com" and entity["fullName"] == "Casey Customer"


def test_sessions_of_another_user_are_never_listed(gql, user, staff_token):
    body = gql.execute(
        "query($r:[_Any!]!){_entities(representations:$r){... on User { sessions { id } }}}",
        {"r": representations([user.pk])},
        token=staff_token,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_removed_role_stops_working_in_accounts_at_once(new_gql, user, make_user):
    # Issue 13: the old access token kept the role's powers in accounts for its whole lifetime.
    from accounts import commands

    manager = make_user("manager@example.com", roles=("order_manager",), is_staff=True)
    token = new_gql().login("manager@example.com")["accessToken"]
    query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { email } } }"
    assert new_gql().data(query, {"r": representations([user.pk])}, token=token)["_entities"][0]["email"] == user.email
    commands.set_user_roles(user_id=str(manager.pk), roles=["customer"])
    body = new_gql().execute(query, {"r": representations([user.pk])}, token=token)  # the same, unexpired token
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
