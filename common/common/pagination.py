"""Keyset (seek) pagination for Relay-style cursor connections.

Offset cursors skip or repeat rows when data changes between pages and get slower
with depth; a keyset cursor encodes the sort values of the last row seen, and the
next page starts strictly after it, with the primary key as the tie-breaker. The cursor also
names the sort it was made under: passed with another sort it is refused (`BAD_USER_INPUT` on
`after`), never silently read as a position in the wrong order.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from django.db.models import Model, Q, QuerySet

from common.errors import ValidationFailed


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool = False


@dataclass
class Page:
    items: list[Model]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool


def _sort_signature(keys: list[SortKey]) -> str:
    return ",".join(f"-{k.field}" if k.descending else k.field for k in keys)


# json.dumps with separators builds a new encoder per call: one encoder for every cursor (a page of 100
# encodes 100 cursors; same bytes as before, so cursors already handed out stay valid).
_compact_json = json.JSONEncoder(separators=(",", ":")).encode


def _encode(keys: list[SortKey], values: list[Any], signature: str | None = None) -> str:
    raw = _compact_json([signature or _sort_signature(keys), *(str(v) for v in values)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, keys: list[SortKey]) -> list[str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != len(keys) + 1 or not all(isinstance(v, str) for v in values):
        raise ValidationFailed("Invalid cursor.", fields={"after": ["Not a cursor returned by this API."]})
    if values[0] != _sort_signature(keys):
        raise ValidationFailed(
            "The cursor was made under another sort order.",
            fields={"after": ["Made for another orderBy: pass the orderBy it came with, or start again without after."]},
        )
    return values[1:]


def _after_filter(queryset: QuerySet, keys: list[SortKey], raw_values: list[str]) -> Q:
    model = queryset.model
    values = []
    for key, raw in zip(keys, raw_values, strict=True):
        field = model._meta.get_field(key.field)
        try:
            values.append(field.to_python(raw))
        except Exception as exc:  # Django raises ValidationError or ValueError by field type
            raise ValidationFailed("Invalid cursor.", fields={"after": ["Not a cursor returned by this API."]}) from exc
    # (k1 > v1) OR (k1 = v1 AND k2 > v2) OR ... with each comparison in its own direction.
    condition = Q()
    for index, key in enumerate(keys):
        lookup = "lt" if key.descending else "gt"
        clause = Q(**{f"{key.field}__{lookup}": values[index]})
        for previous_key, previous_value in zip(keys[:index], values[:index], strict=True):
            clause &= Q(**{previous_key.field: previous_value})
        condition |= clause
    return condition


def page_queryset(queryset: QuerySet, *, keys: list[SortKey], first: int, after: str | None) -> QuerySet:
    """The rows of a page as a query: in `keys` order, after the `after` cursor, `first` + 1 of them (the
    extra row tells whether there is a next page). `keys` must end with a unique field."""
    ordering = [f"-{k.field}" if k.descending else k.field for k in keys]
    queryset = queryset.order_by(*ordering)
    if after:
        queryset = queryset.filter(_after_filter(queryset, keys, _decode(after, keys)))
    return queryset[: first + 1]


def page_from_rows(rows: list[Any], *, keys: list[SortKey], first: int, after: str | None) -> Page:
    """The page of the rows `page_queryset` selected (objects or named rows with the sort fields)."""
    has_next = len(rows) > first
    rows = rows[:first]
    signature = _sort_signature(keys)
    fields = [k.field for k in keys]
    cursors = [_encode(keys, [getattr(row, field) for field in fields], signature) for row in rows]
    return Page(items=rows, cursors=cursors, has_next_page=has_next, has_previous_page=bool(after))


def paginate(queryset: QuerySet, *, keys: list[SortKey], first: int, after: str | None) -> Page:
    """One page of `first` rows after the `after` cursor. `keys` must end with a unique field."""
    rows = list(page_queryset(queryset, keys=keys, first=first, after=after))
    return page_from_rows(rows, keys=keys, first=first, after=after)
