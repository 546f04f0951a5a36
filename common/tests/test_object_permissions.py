"""Object-level permissions with django-guardian on an owned object (as carts and orders will be)."""

from __future__ import annotations

import pytest
from common.auth import registry
from common.auth.objects import grant_object_permission, has_object_permission, revoke_object_permission
from common.auth.principal import ANONYMOUS, Principal
from common.auth.replica.models import User
from common.auth.tokens import verify_access_token

from tests.ownership.models import Note

pytestmark = pytest.mark.django_db

NOTE = "query($id: ID!) { note(id: $id) }"
VIEW = "ownership.view_note"


@pytest.fixture
def people(tokens, user_event):
    """Replica users (as the accounts events made them) with matching tokens."""

    def person(email: str, roles: list[str], perms: list[str], staff: bool = False):
        minted = tokens.mint(roles=roles, perms=perms, email=email, staff=staff)
        user_event("registered", minted.user_id, email=email, roles=roles, perms=perms, is_staff=staff)
        return minted

    return person


@pytest.fixture
def owned_note(people):
    owner = people("owner@example.com", ["customer"], [])
    note = Note.objects.create(owner=User.objects.get(pk=owner.user_id), title="my shopping list")
    grant_object_permission(user_id=owner.user_id, perm=VIEW, obj=note)
    return owner, note


def test_owner_sees_own_object(api, owned_note):
    owner, note = owned_note
    assert api.execute(NOTE, {"id": str(note.pk)}, token=owner.token) == {"data": {"note": "my shopping list"}}


def test_other_customer_is_forbidden(api, owned_note, people):
    _, note = owned_note
    stranger = people("stranger@example.com", ["customer"], [])
    assert api.code(NOTE, {"id": str(note.pk)}, token=stranger.token) == "FORBIDDEN"


def test_anonymous_is_unauthenticated(api, owned_note):
    _, note = owned_note
    assert api.code(NOTE, {"id": str(note.pk)}) == "UNAUTHENTICATED"


def test_staff_with_model_wide_permission_sees_every_object(api, owned_note, people):
    _, note = owned_note
    manager = people("om@example.com", ["order_manager"], [VIEW], staff=True)
    assert api.code(NOTE, {"id": str(note.pk)}, token=manager.token) is None


def test_staff_granted_one_object_sees_only_that_one(api, owned_note, people):
    _, note = owned_note
    other_note = Note.objects.create(owner=note.owner, title="another list")
    helper = people("helper@example.com", ["customer"], [], staff=True)
    grant_object_permission(user_id=helper.user_id, perm=VIEW, obj=note)
    assert api.code(NOTE, {"id": str(note.pk)}, token=helper.token) is None
    assert api.code(NOTE, {"id": str(other_note.pk)}, token=helper.token) == "FORBIDDEN"
    revoke_object_permission(user_id=helper.user_id, perm=VIEW, obj=note)
    assert api.code(NOTE, {"id": str(note.pk)}, token=helper.token) == "FORBIDDEN"


def test_admin_sees_everything(api, owned_note, people):
    _, note = owned_note
    admin = people("admin@example.com", ["admin"], [], staff=True)
    assert api.code(NOTE, {"id": str(note.pk)}, token=admin.token) is None


def test_object_grant_without_replica_row_is_denied(owned_note, tokens):
    _, note = owned_note
    unknown = Principal(verify_access_token(tokens.mint(roles=["customer"]).token))
    assert has_object_permission(unknown, VIEW, note) is False
    assert has_object_permission(ANONYMOUS, VIEW, note) is False


def test_deactivated_owner_loses_access(api, owned_note, user_event):
    owner, note = owned_note
    user_event("deactivated", owner.user_id, email="owner@example.com")
    registry.set_user_active(user_id=owner.user_id, active=False)
    assert api.code(NOTE, {"id": str(note.pk)}, token=owner.token) == "UNAUTHENTICATED"
    principal = Principal(verify_access_token(owner.token, check_state=False))
    assert has_object_permission(principal, VIEW, note) is False  # the replica says inactive too
