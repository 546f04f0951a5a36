"""Kafka clients configured the one way the platform uses them (kafka-python)."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from common.events.conf import bootstrap_servers, service_name, setting

# kafka-python logs every refused connection with a traceback; the relay and consumer report
# broker outages themselves, once per failure, with the backoff they apply.
logging.getLogger("kafka").setLevel(logging.CRITICAL)


def _common(role: str) -> dict[str, Any]:
    return {
        "bootstrap_servers": bootstrap_servers(),
        "client_id": f"{service_name()}-{role}-{socket.gethostname()}-{os.getpid()}",
        "request_timeout_ms": 5000,
        # Fail fast when the broker is down (default 30 s): the caller backs off and retries.
        "bootstrap_timeout_ms": 5000,
        "reconnect_backoff_ms": 100,
        "reconnect_backoff_max_ms": 2000,
        **setting("EVENTS_KAFKA_OPTIONS"),
    }


def producer(role: str = "producer") -> KafkaProducer:
    """acks=all and the idempotent producer: a retried send is never written twice, nor reordered."""
    return KafkaProducer(
        **_common(role),
        acks="all",
        enable_idempotence=True,
        linger_ms=0,
        max_block_ms=5000,
        delivery_timeout_ms=10000,
        retry_backoff_ms=100,
    )


def consumer(*, group_id: str | None, role: str = "consumer", **overrides: Any) -> KafkaConsumer:
    options: dict[str, Any] = {
        **_common(role),
        "group_id": group_id,
        "enable_auto_commit": False,  # offsets are committed after the handler's transaction
        "auto_offset_reset": "earliest",  # a new group starts from the first retained event
        # A short session makes group joins fast (the broker waits ~half of it) and failover quick.
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 1000,
        "max_poll_records": 500,
        "fetch_max_wait_ms": setting("EVENTS_CONSUMER_FETCH_MAX_WAIT_MS"),
        "metadata_max_age_ms": 10000,
        "request_timeout_ms": 10000,
    }
    options.update(overrides)
    return KafkaConsumer(**options)


def admin() -> KafkaAdminClient:
    return KafkaAdminClient(**_common("admin"))
