"""The development Kafka broker (Tansu, in memory) on loopback, and every service's topics on it."""

from __future__ import annotations

import os

from common.events.broker import broker_command
from common.testing.net import free_port, port_open

from devtools.env import BROKER_ADDRESS_FILE, service_env
from devtools.manage import manage
from devtools.paths import ROOT
from devtools.services import broker_port, services
from devtools.supervisor import Supervisor


def start_broker(supervisor: Supervisor) -> str:
    """Start the broker on services.json's port (a free one when taken), record its address in
    .run/broker.addr and create the topics of every service that has workers; returns host:port."""
    preferred = broker_port()
    port = preferred if preferred and not port_open(preferred) else free_port()
    supervisor.start("broker", broker_command(port), cwd=ROOT, env=dict(os.environ))
    supervisor.wait_ready(lambda: port_open(port), timeout=30, what="the broker")
    address = f"127.0.0.1:{port}"
    BROKER_ADDRESS_FILE.write_text(address)
    for service in services():
        if service.get("workers"):
            manage(service, ["create_topics"], env=service_env(service, extra={"KAFKA_BOOTSTRAP_SERVERS": address}))
    return address


def forget_broker() -> None:
    BROKER_ADDRESS_FILE.unlink(missing_ok=True)
