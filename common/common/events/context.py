"""Who and what caused the events recorded now: the envelope's `actor` and `causation_id`.

`record_event` stamps both from here, so commands never pass them:
- actor: the user id of the authenticated caller of the request (set by the auth layer of each
  service: `common.auth.middleware.AuthMiddleware`, accounts' `authenticate_request`, or the
  Django admin's session user), else "system" (shell, seeds, cron, consumers of system events);
- causation_id: the id of the event being handled (set by `common.events.processing.apply_events`
  around each handler), else None (the event was caused by a request or a person).

While a handler runs, the actor is the actor of the event it handles, so a saga keeps its
originator step by step; the correlation id (common.correlation) follows the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

SYSTEM = "system"
MAX_ACTOR = 128

_actor: ContextVar[str | None] = ContextVar("events_actor", default=None)
_causation: ContextVar[uuid.UUID | None] = ContextVar("events_causation", default=None)


def current_actor() -> str:
    return _actor.get() or SYSTEM


def current_causation_id() -> uuid.UUID | None:
    return _causation.get()


def set_actor(actor: str | None) -> None:
    """Set the actor for the rest of the current scope (call inside `actor_scope`, e.g. once the
    request is authenticated; the scope's end restores the previous value)."""
    _actor.set(str(actor)[:MAX_ACTOR] if actor else None)


@contextmanager
def actor_scope(actor: str | None) -> Iterator[None]:
    token = _actor.set(str(actor)[:MAX_ACTOR] if actor else None)
    try:
        yield
    finally:
        _actor.reset(token)


@contextmanager
def causation_scope(event_id: uuid.UUID | None, *, actor: str | None = None) -> Iterator[None]:
    """While an event is handled: events recorded now were caused by it (and act for its actor)."""
    causation = _causation.set(event_id)
    acting = _actor.set(actor if actor and actor != SYSTEM else None)
    try:
        yield
    finally:
        _actor.reset(acting)
        _causation.reset(causation)
