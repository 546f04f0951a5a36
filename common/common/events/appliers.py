"""How the consumer applies a batch of events: the pluggable step of `EventConsumer`.

An applier runs the handlers of each event at most once per (event, handler), recording that
in the same atomic step as their effects. The default, `SqlApplier`, does it in one database
transaction (`common.events.processing`); a service whose data lives elsewhere plugs its own
(EVENTS_APPLIER = "dotted.path.to.applier"), e.g. `common.events.redis_processing.RedisApplier`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from django.db import InterfaceError, OperationalError, close_old_connections, connection
from django.utils.module_loading import import_string

from common.events.envelope import Envelope
from common.events.handlers import Registration
from common.events.processing import Work, apply_event, apply_events


class Applier(Protocol):
    # Errors of the store, not of the event: waited out with backoff, never dead-lettered.
    transient_errors: tuple[type[BaseException], ...]

    def apply_events(self, work: Sequence[Work]) -> list[set[str]]: ...

    def apply_event(self, envelope: Envelope, registrations: Sequence[Registration]) -> set[str]: ...

    def recover(self) -> None:
        """After a transient error: drop connections so the retry opens fresh ones."""


class SqlApplier:
    transient_errors: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)

    def apply_events(self, work: Sequence[Work]) -> list[set[str]]:
        return apply_events(work)

    def apply_event(self, envelope: Envelope, registrations: Sequence[Registration]) -> set[str]:
        return apply_event(envelope, registrations)

    def recover(self) -> None:
        close_old_connections()
        connection.close()


def configured_applier(path: str | None) -> Any:
    """EVENTS_APPLIER: a dotted path to an applier object, or to a callable returning one."""
    if not path:
        return SqlApplier()
    found = import_string(path)
    return found() if callable(found) and not hasattr(found, "apply_events") else found
