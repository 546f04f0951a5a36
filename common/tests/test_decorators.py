"""RBAC and PBAC decorators in graphene and ariadne resolvers, and role changes through the replica."""

from __future__ import annotations

import asyncio
import datetime as dt
from types import SimpleNamespace

import pytest
from ariadne import graphql
from common.auth.decorators import login_required, permission_required, roles_required
from common.auth.principal import ANONYMOUS, Principal, principal_from_context
from common.auth.tokens import verify_access_token

from tests.schemas import ariadne_schema

MANAGER = "{ managerArea }"
TWO_PERMS = "{ twoPerms }"
ADD_NOTE = 'mutation { addNote(title: "x") { title } }'
BOTH = ["ownership.add_note", "ownership.change_note"]


@pytest.mark.parametrize(
    ("roles", "perms", "expected"),
    [
        (None, None, "UNAUTHENTICATED"),
        (["customer"], [], "FORBIDDEN"),
        (["order_manager"], [], "FORBIDDEN"),
        (["catalog_manager"], [], None),
        (["customer", "catalog_manager"], [], None),
        (["admin"], [], None),
    ],
)
def test_roles_required(api, tokens, roles, perms, expected):
    token = tokens.mint(roles=roles, perms=perms).token if roles is not None else None
    assert api.code(MANAGER, token=token) == expected


@pytest.mark.parametrize(
    ("roles", "perms", "expected"),
    [
        (None, None, "UNAUTHENTICATED"),
        ([], [], "FORBIDDEN"),
        ([], ["ownership.add_note"], "FORBIDDEN"),  # every listed permission is needed
        ([], BOTH, None),
        (["catalog_manager"], [], "FORBIDDEN"),  # a role grants only its permissions
        (["admin"], [], None),  # admin may do everything
    ],
)
def test_permission_required(api, tokens, roles, perms, expected):
    token = tokens.mint(roles=roles, perms=perms).token if roles is not None else None
    assert api.code(TWO_PERMS, token=token) == expected


def test_permission_required_on_mutations(api, tokens):
    assert api.code(ADD_NOTE) == "UNAUTHENTICATED"
    assert api.code(ADD_NOTE, token=tokens.mint(perms=[]).token) == "FORBIDDEN"
    body = api.execute(ADD_NOTE, token=tokens.mint(perms=["ownership.add_note"]).token)
    assert body == {"data": {"addNote": {"title": "x"}}}


def test_forbidden_names_what_is_missing(api, tokens):
    error = api.execute(TWO_PERMS, token=tokens.mint(perms=[]).token)["errors"][0]
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert "ownership.add_note" in error["message"]


@pytest.mark.django_db
def test_async_ariadne_resolvers_are_guarded(tokens):
    @roles_required("catalog_manager")
    async def resolver(obj, info):
        return "async ok"

    from ariadne import QueryType, make_executable_schema
    from common.graphql.ariadne_view import ariadne_error_formatter

    query = QueryType()
    query.set_field("area", resolver)
    schema = make_executable_schema("type Query { area: String }", query)

    def run(principal):
        context = {"request": SimpleNamespace(auth=principal)}
        # The edge's formatter turns the domain error into extensions.code (as the ariadne view does).
        request = graphql(schema, {"query": "{ area }"}, context_value=context, error_formatter=ariadne_error_formatter)
        return asyncio.run(request)[1]

    assert run(ANONYMOUS)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    manager = Principal(verify_access_token(tokens.mint(roles=["catalog_manager"]).token))
    assert run(manager)["data"] == {"area": "async ok"}


def test_principal_from_any_context_shape(tokens):
    principal = Principal(verify_access_token(tokens.mint().token))
    request = SimpleNamespace(auth=principal)
    assert principal_from_context(request) is principal  # graphene: the request
    assert principal_from_context({"request": request}) is principal  # ariadne default
    assert principal_from_context({"auth": principal}) is principal
    assert principal_from_context(SimpleNamespace(request=request)) is principal
    assert principal_from_context({}) is ANONYMOUS  # no middleware: fail closed


def test_decorators_refuse_functions_without_info():
    @login_required
    def not_a_resolver(x):
        return x

    with pytest.raises(TypeError):
        not_a_resolver(1)
    with pytest.raises(ValueError):
        permission_required("no_app_label")
    with pytest.raises(ValueError):
        roles_required()


@pytest.mark.django_db
def test_role_removed_in_accounts_reaches_permission_checks_through_the_replica(api, tokens, user_event):
    minted = tokens.mint(roles=["catalog_manager"], perms=BOTH)
    assert api.code(TWO_PERMS, token=minted.token) is None
    # Accounts takes the role away; the event reaches this service's replica.
    user_event("roles_changed", minted.user_id, email="m@example.com", roles=["customer"], perms=[], is_staff=False)
    assert api.code(TWO_PERMS, token=minted.token) == "FORBIDDEN"
    assert api.code(MANAGER, token=minted.token) == "FORBIDDEN"


@pytest.mark.django_db
def test_role_granted_in_accounts_applies_before_the_next_token(api, tokens, user_event):
    minted = tokens.mint(roles=["customer"], perms=[])
    assert api.code(MANAGER, token=minted.token) == "FORBIDDEN"
    user_event("roles_changed", minted.user_id, email="c@example.com", roles=["catalog_manager"], perms=BOTH)
    assert api.code(MANAGER, token=minted.token) is None
    assert api.code(TWO_PERMS, token=minted.token) is None


@pytest.mark.django_db
def test_replica_older_than_the_token_does_not_override_it(api, tokens, user_event):
    minted = tokens.mint(roles=["catalog_manager"], perms=BOTH)
    an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    user_event("registered", minted.user_id, at=an_hour_ago, email="n@example.com", roles=["customer"], perms=[])
    assert api.code(TWO_PERMS, token=minted.token) is None  # the token is newer than the replica


def test_ariadne_schema_exposes_the_same_operations():
    assert set(ariadne_schema.query_type.fields) == {"public", "me", "managerArea", "twoPerms", "note"}
