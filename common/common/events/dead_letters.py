"""Dead-letter topic `<topic>.dlq`: where a message goes when it cannot be handled, with the reason.

The DLQ record is JSON: the error, what kind of failure it was, where the original came from and
the original value (text, or base64 when it was not UTF-8), so it can be inspected and replayed.
"""

from __future__ import annotations

import base64
from typing import Any

from django.utils import timezone

from common.events.conf import dead_letter_topic
from common.events.envelope import encode_json

MALFORMED = "malformed"  # not a valid envelope: retrying cannot help
HANDLER_ERROR = "handler_error"  # a handler kept failing after its retries


def dead_letter_record(record: Any, *, kind: str, error: str, group_id: str, attempts: int) -> bytes:
    value: bytes | None = record.value
    text: str | None = None
    if value is not None:
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    return encode_json(
        {
            "kind": kind,
            "error": error[:4000],
            "attempts": attempts,
            "consumer_group": group_id,
            "failed_at": timezone.now().isoformat(),
            "original": {
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "timestamp_ms": record.timestamp,
                "key": record.key.decode("utf-8", "replace") if record.key else None,
            },
            "value": text,
            "value_base64": base64.b64encode(value).decode() if value is not None and text is None else None,
        }
    )


def send_to_dead_letters(producer: Any, record: Any, *, kind: str, error: str, group_id: str, attempts: int) -> None:
    """Publish and wait for the broker's ack: the original offset is committed only after this returns."""
    future = producer.send(
        dead_letter_topic(record.topic),
        key=record.key,
        value=dead_letter_record(record, kind=kind, error=error, group_id=group_id, attempts=attempts),
        headers=[("error_kind", kind.encode()), ("original_topic", record.topic.encode())],
    )
    future.get(timeout=15)
