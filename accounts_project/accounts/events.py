"""What accounts publishes (docs/auth.md, docs/contracts.md), in the two kinds of events.

- Model state: other services keep replicas of users, so `User` is bridged
  (common.events.bridge): every save, delete, bulk write or change of its roles (groups) records
  `accounts.user.created/updated/deleted` with the user's state, whoever makes the change
  (commands, the Django admin, the shell, seeds). Saves that touch only `last_login` or
  `password` are not state other services keep and record nothing.
- Domain events, recorded explicitly by the command that decides them, inside its transaction:
  `accounts.user.registered/deactivated/reactivated/roles_changed`, `accounts.session.revoked`.

Every user event (both kinds) carries a full snapshot of the user, so a consumer can upsert its
replica from any single event without reading the accounts database.
"""

from __future__ import annotations

from typing import Any

from common.events.bridge import ModelEvents, publish_model_events
from common.events.outbox import record_event

from accounts.models import Session, User
from accounts.queries import Authorization, authorization_of, user_with_roles

USER_TOPIC = "accounts.user"
SESSION_TOPIC = "accounts.session"

# Model state (the bridge).
USER_CREATED = "accounts.user.created"
USER_UPDATED = "accounts.user.updated"
USER_DELETED = "accounts.user.deleted"
# Domain (the commands).
USER_REGISTERED = "accounts.user.registered"
# Someone tried to register with this user's email (the owner may be told; `register` says nothing).
USER_REGISTRATION_ATTEMPTED = "accounts.user.registration_attempted"
USER_DEACTIVATED = "accounts.user.deactivated"
USER_REACTIVATED = "accounts.user.reactivated"
USER_ROLES_CHANGED = "accounts.user.roles_changed"
SESSION_REVOKED = "accounts.session.revoked"


def record_account_event(*, topic: str, event_type: str, aggregate_id: str, payload: dict[str, Any]) -> None:
    """The one place accounts hands events to the outbox (same DB transaction as the caller)."""
    record_event(topic=topic, event_type=event_type, aggregate_id=aggregate_id, payload=payload)


def user_snapshot(user: User, authorization: Authorization) -> dict[str, Any]:
    return {
        "id": str(user.pk),
        "email": user.email,
        "full_name": user.full_name,
        "is_active": user.is_active,
        "is_staff": authorization.staff,
        "is_superuser": authorization.superuser,
        "roles": list(authorization.roles),
        "perms": list(authorization.perms),
        "date_joined": user.date_joined.isoformat(),
    }


def user_state(instance: Any) -> dict[str, Any]:
    """The bridge's payload for a user: the snapshot as committed with this change (roles included)."""
    user = user_with_roles(instance.pk)
    if user is None:  # deleted: what remains is that it can no longer act
        return {
            "id": str(instance.pk),
            "email": instance.email,
            "full_name": instance.full_name,
            "is_active": False,
            "is_staff": False,
            "is_superuser": False,
            "roles": [],
            "perms": [],
            "date_joined": instance.date_joined.isoformat(),
        }
    return user_snapshot(user, authorization_of(user))


def register() -> None:
    """Bridge the user model to the outbox (called once, from AccountsConfig.ready)."""
    publish_model_events(
        "accounts.user",
        ModelEvents(
            USER_TOPIC,
            USER_CREATED,
            USER_UPDATED,
            USER_DELETED,
            user_state,
            quiet_fields=frozenset({"last_login", "password"}),
            m2m_fields=("groups",),
        ),
    )


def user_event(event_type: str, user: User, authorization: Authorization, **extra: Any) -> None:
    record_account_event(
        topic=USER_TOPIC,
        event_type=event_type,
        aggregate_id=str(user.pk),
        payload={"user": user_snapshot(user, authorization), **extra},
    )


def session_revoked(session: Session) -> None:
    record_account_event(
        topic=SESSION_TOPIC,
        event_type=SESSION_REVOKED,
        aggregate_id=str(session.pk),
        payload={
            "session_id": str(session.pk),
            "user_id": str(session.user_id),
            "reason": session.revoke_reason,
            "revoked_at": session.revoked_at.isoformat() if session.revoked_at else None,
        },
    )
