"""Assertions on what a service wrote to its transactional outbox (the real table, no broker)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

FIELDS = ("topic", "event_type", "aggregate_id", "payload", "producer", "schema_version")


def outbox_for(aggregate_id: object) -> list[Any]:
    """Every outbox row of one aggregate, oldest first."""
    from common.events.models import OutboxEvent

    return list(OutboxEvent.objects.filter(aggregate_id=str(aggregate_id)).order_by("id"))


class OutboxLog(Sequence[dict[str, Any]]):
    """The outbox rows written since it was made (as dicts of FIELDS), read from the table at each access:
    `assert [e["event_type"] for e in log] == [...]`, `assert log == [...]`, `log.event_types()`."""

    def __init__(self) -> None:
        from django.db.models import Max

        from common.events.models import OutboxEvent

        self.after = OutboxEvent.objects.aggregate(last=Max("id"))["last"] or 0

    def _events(self) -> list[dict[str, Any]]:
        from common.events.models import OutboxEvent

        return list(OutboxEvent.objects.filter(id__gt=self.after).order_by("id").values(*FIELDS))

    def event_types(self) -> list[str]:
        return [event["event_type"] for event in self._events()]

    def __getitem__(self, index):  # type: ignore[override]
        return self._events()[index]

    def __len__(self) -> int:
        return len(self._events())

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._events())

    def __eq__(self, other: object) -> bool:
        return self._events() == list(other)  # type: ignore[call-overload]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._events())
