"""The user replica, fed by accounts user events: idempotent, order-safe, mirrored for Django."""

from __future__ import annotations

import datetime as dt
import uuid
from types import SimpleNamespace

import pytest
from common.auth.replica.handlers import on_accounts_user_event
from common.auth.replica.models import User
from common.auth.replica.sync import forget_sync_positions
from django.contrib.auth.models import Group

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def envelope(event_type: str, user_id: str, at: dt.datetime, **snapshot) -> SimpleNamespace:
    """Shaped like the event backbone's Envelope."""
    return SimpleNamespace(
        event_id=str(uuid.uuid4()),
        event_type=f"accounts.user.{event_type}",
        schema_version=1,
        aggregate_id=user_id,
        occurred_at=at.isoformat(),
        producer="accounts",
        correlation_id=None,
        payload={"user": {"id": user_id, **snapshot}},
    )


def row(user_id: str) -> dict:
    user = User.objects.get(pk=user_id)
    return {
        "email": user.email,
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "roles": user.roles,
        "permissions": user.permissions,
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "user_permissions": sorted(
            f"{p.content_type.app_label}.{p.codename}" for p in user.user_permissions.select_related("content_type")
        ),
        "has_usable_password": user.has_usable_password(),
        "synced_at": user.synced_at,
    }


def test_registered_creates_the_replica(new_user_id):
    on_accounts_user_event(
        envelope("registered", new_user_id, T0, email="Ann@Example.COM", is_active=True, is_staff=False,
                 roles=["customer"], perms=[])
    )
    assert row(new_user_id) == {
        "email": "Ann@example.com",
        "is_active": True,
        "is_staff": False,
        "is_superuser": False,
        "roles": ["customer"],
        "permissions": [],
        "groups": ["customer"],
        "user_permissions": [],
        "has_usable_password": False,  # replicas sign in through accounts only
        "synced_at": T0,
    }


def test_every_event_is_idempotent(new_user_id):
    events = [
        envelope("registered", new_user_id, T0, email="a@example.com", roles=["customer"], perms=[]),
        envelope("roles_changed", new_user_id, T0 + dt.timedelta(minutes=1), email="a@example.com",
                 is_staff=True, roles=["catalog_manager"], perms=["ownership.add_note", "catalog.add_product"]),
        envelope("deactivated", new_user_id, T0 + dt.timedelta(minutes=2), email="a@example.com", is_active=False),
    ]
    for event in events:
        on_accounts_user_event(event)
    once = row(new_user_id)
    for event in events + events[::-1]:  # redelivered, even out of order
        on_accounts_user_event(event)
    assert row(new_user_id) == once
    assert User.objects.count() == 1
    assert Group.objects.filter(name="catalog_manager").count() == 1
    assert once["is_active"] is False
    assert once["roles"] == ["catalog_manager"]


def test_permissions_are_mirrored_where_they_exist_locally(new_user_id):
    on_accounts_user_event(
        envelope("roles_changed", new_user_id, T0, email="m@example.com", is_staff=True,
                 roles=["catalog_manager"], perms=["ownership.add_note", "ownership.view_note", "catalog.add_product"])
    )
    replica = row(new_user_id)
    # Every permission is kept verbatim; only this service's own become Django permissions.
    assert replica["permissions"] == ["catalog.add_product", "ownership.add_note", "ownership.view_note"]
    assert replica["user_permissions"] == ["ownership.add_note", "ownership.view_note"]
    user = User.objects.get(pk=new_user_id)
    assert user.has_perm("ownership.add_note")
    assert not user.has_perm("ownership.delete_note")


def test_older_event_does_not_undo_a_newer_one(new_user_id):
    on_accounts_user_event(envelope("deactivated", new_user_id, T0 + dt.timedelta(hours=1), email="x@example.com"))
    on_accounts_user_event(
        envelope("registered", new_user_id, T0, email="x@example.com", is_active=True, roles=["customer"], perms=[])
    )
    assert row(new_user_id)["is_active"] is False
    assert row(new_user_id)["roles"] == []


def test_deactivate_and_reactivate(new_user_id):
    on_accounts_user_event(envelope("registered", new_user_id, T0, email="r@example.com", roles=["customer"], perms=[]))
    on_accounts_user_event(envelope("deactivated", new_user_id, T0 + dt.timedelta(seconds=1), email="r@example.com"))
    assert row(new_user_id)["is_active"] is False
    on_accounts_user_event(
        envelope("reactivated", new_user_id, T0 + dt.timedelta(seconds=2), email="r@example.com", is_active=True)
    )
    assert row(new_user_id)["is_active"] is True


def test_model_state_events_of_the_accounts_bridge_keep_the_replica(new_user_id):
    """accounts.user.created/updated/deleted carry the user's state flat (no "user" wrapper)."""

    def state(event_type: str, at: dt.datetime, **snapshot) -> SimpleNamespace:
        event = envelope(event_type, new_user_id, at)
        event.payload = {"id": new_user_id, **snapshot}
        return event

    on_accounts_user_event(state("created", T0, email="m@example.com", is_active=True, roles=[], perms=[]))
    assert row(new_user_id)["roles"] == []
    on_accounts_user_event(
        state("updated", T0 + dt.timedelta(seconds=1), email="m@example.com", is_active=True, is_staff=True,
              roles=["catalog_manager"], perms=["catalog.add_product"])
    )
    assert (row(new_user_id)["roles"], row(new_user_id)["is_staff"]) == (["catalog_manager"], True)
    assert row(new_user_id)["permissions"] == ["catalog.add_product"]
    on_accounts_user_event(state("deleted", T0 + dt.timedelta(seconds=2), email="m@example.com", is_active=True))
    assert row(new_user_id)["is_active"] is False  # a deleted account can no longer act


def test_admin_role_is_superuser(new_user_id):
    on_accounts_user_event(envelope("roles_changed", new_user_id, T0, email="boss@example.com", is_staff=True,
                                    roles=["admin"], perms=[]))
    assert row(new_user_id)["is_superuser"] is True
    on_accounts_user_event(envelope("roles_changed", new_user_id, T0 + dt.timedelta(seconds=1), email="boss@example.com",
                                    roles=["customer"], perms=[]))
    assert row(new_user_id)["is_superuser"] is False


def test_email_moving_to_another_account_frees_it(new_user_id):
    other = str(uuid.uuid4())
    on_accounts_user_event(envelope("registered", other, T0, email="shared@example.com", roles=[], perms=[]))
    on_accounts_user_event(envelope("registered", new_user_id, T0 + dt.timedelta(days=1), email="shared@example.com",
                                    roles=[], perms=[]))
    assert User.objects.get(email="shared@example.com").pk == uuid.UUID(new_user_id)
    assert User.objects.get(pk=other).email.endswith("@replica.invalid")


def test_other_event_types_are_ignored(new_user_id):
    on_accounts_user_event(envelope("profile_changed", new_user_id, T0, email="p@example.com"))
    assert not User.objects.filter(pk=new_user_id).exists()


def test_rebuild_keeps_rows_and_reapplies_the_history(new_user_id):
    history = [
        envelope("registered", new_user_id, T0, email="h@example.com", roles=["customer"], perms=[]),
        envelope("roles_changed", new_user_id, T0 + dt.timedelta(minutes=1), email="h@example.com", is_staff=True,
                 roles=["catalog_manager"], perms=["ownership.add_note"]),
    ]
    for event in history:
        on_accounts_user_event(event)
    final = row(new_user_id)
    User.objects.filter(pk=new_user_id).update(roles=["tampered"], is_staff=False)
    forget_sync_positions()
    assert User.objects.filter(pk=new_user_id).exists()  # never deleted
    for event in history:  # the replay
        on_accounts_user_event(event)
    assert row(new_user_id) == final


def test_consumer_path_runs_the_replica_handler_once_per_event(new_user_id):
    # Through the event backbone exactly as the consumer does: discovered handler, dedup by event id.
    from common.events.envelope import Envelope
    from common.events.handlers import handlers_for
    from common.events.processing import apply_event

    registrations = handlers_for("accounts.user.roles_changed")
    assert [r.name for r in registrations] == ["common.auth.replica.handlers.on_accounts_user_event"]
    assert all(r.reset is not None for r in registrations)  # rebuild_read_models replays it
    event = envelope("roles_changed", new_user_id, T0, email="c@example.com", is_staff=True,
                     roles=["catalog_manager"], perms=["ownership.add_note"])
    real = Envelope.from_dict({**vars(event), "event_id": str(uuid.uuid4()), "correlation_id": "test"})
    assert apply_event(real, registrations) == {"common.auth.replica.handlers.on_accounts_user_event"}
    User.objects.filter(pk=new_user_id).update(roles=["changed-meanwhile"])
    assert apply_event(real, registrations) == set()  # redelivered: not run again
    assert User.objects.get(pk=new_user_id).roles == ["changed-meanwhile"]
