"""What a service reacts to: `@handles(...)` registers a handler for event types.

    from common.events.handlers import handles

    @handles("accounts.user.registered", "accounts.user.deactivated")
    def on_user(event: Envelope) -> None: ...

Handlers run inside a database transaction, once per event (the consumer runner records the
event id for the handler in the same transaction). A handler that feeds a read model passes
`reset=` (a function that empties that read model): `manage.py rebuild_read_models` calls the
resets and replays the topics into those handlers only. Handlers without `reset` are reactions
(send a mail, start a process) and are never replayed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from common.events.envelope import Envelope

Handler = Callable[[Envelope], None]
Reset = Callable[[], None]


@dataclass(frozen=True)
class Registration:
    name: str  # recorded in ProcessedEvent: keep it stable (module.function)
    handler: Handler
    reset: Reset | None


_by_type: dict[str, list[Registration]] = {}


def handles(*event_types: str, reset: Reset | None = None) -> Callable[[Handler], Handler]:
    if not event_types:
        raise ValueError("@handles needs at least one event type")

    def register(handler: Handler) -> Handler:
        registration = Registration(f"{handler.__module__}.{handler.__qualname__}", handler, reset)
        for event_type in event_types:
            registered = _by_type.setdefault(event_type, [])
            if all(existing.name != registration.name for existing in registered):
                registered.append(registration)
        return handler

    return register


def handlers_for(event_type: str) -> list[Registration]:
    return list(_by_type.get(event_type, ()))


def handled_event_types() -> set[str]:
    return set(_by_type)


def read_model_registrations() -> list[Registration]:
    """Every handler that feeds a read model (has a reset), each once."""
    seen: dict[str, Registration] = {}
    for registrations in _by_type.values():
        for registration in registrations:
            if registration.reset is not None:
                seen.setdefault(registration.name, registration)
    return list(seen.values())
