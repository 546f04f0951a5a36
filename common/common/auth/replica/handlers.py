"""Consumers of `accounts.user.*` events that keep the user replica up to date.

Services that install `common.auth.replica` consume the `accounts.user` topic
(`EVENTS_CONSUME_TOPICS = ["accounts.user", ...]`). Each handler runs inside the consumer's
DB transaction; the event backbone de-duplicates by event id and `apply_user_event` ignores
events older than the row, so redelivery and replays are harmless.
"""

from __future__ import annotations

from common.auth.replica.sync import USER_EVENTS, apply_user_event, forget_sync_positions
from common.events.envelope import Envelope
from common.events.handlers import handles


# `rebuild_read_models` calls the reset, then replays the topic. Replica rows are never deleted
# (guardian grants, admin history and owned objects point at them): the reset only makes every
# row accept the replayed events again.
@handles(*USER_EVENTS, reset=forget_sync_positions)
def on_accounts_user_event(event: Envelope) -> None:
    apply_user_event(
        event_type=event.event_type,
        user_id=event.aggregate_id,
        occurred_at=event.occurred_at,
        payload=event.payload,
    )
