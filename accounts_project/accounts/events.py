"""Account events, recorded through the transactional outbox (common.events).

Everything the accounts service publishes goes through `record_account_event`, called inside
the command's `transaction.atomic()` so the event commits (or rolls back) with the change.
Each user event carries a full snapshot of the user, so a consumer can upsert its replica from
any single event without reading the accounts database.
"""

from __future__ import annotations

from typing import Any

from common.events.outbox import record_event

from accounts.models import Session, User
from accounts.queries import Authorization

USER_TOPIC = "accounts.user"
SESSION_TOPIC = "accounts.session"

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
