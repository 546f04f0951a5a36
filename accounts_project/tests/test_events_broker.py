"""Account events leave through the outbox relay and reach the real (Tansu) broker, keyed by aggregate."""

from __future__ import annotations

import pytest
from common.events.envelope import Envelope
from common.events.models import OutboxEvent
from common.testing.polling import wait_until

from tests.helpers import PASSWORD

pytestmark = pytest.mark.usefixtures("committed_roles")

REGISTER = "mutation($i: RegisterInput!) { register(input: $i) { user { id } } }"


def envelopes(records, aggregate_id: str) -> list[Envelope]:
    return [Envelope.from_json(r.value) for r in records if r.key == aggregate_id.encode()]


def test_registration_and_logout_events_are_published(gql, run_relay, topic_reader):
    users, sessions = topic_reader("accounts.user"), topic_reader("accounts.session")
    run_relay()
    user_id = gql.data(REGISTER, {"i": {"email": "broker@example.com", "password": PASSWORD}})["register"]["user"]["id"]
    login = gql.login("broker@example.com")
    gql.data("mutation { logout { endedSessions } }", token=login["accessToken"])

    records = users.read_until(lambda rs: len(envelopes(rs, user_id)) >= 3, what="accounts.user.registered")
    # The bridge's model-state events (row, then roles), then the command's domain event, in order.
    created, roles_set, registered = envelopes(records, user_id)[:3]
    assert [e.event_type for e in (created, roles_set)] == ["accounts.user.created", "accounts.user.updated"]
    assert roles_set.payload["roles"] == ["customer"]
    assert registered.event_type == "accounts.user.registered" and registered.producer == "accounts"
    assert registered.payload["user"]["email"] == "broker@example.com"

    sid = login["session"]["id"]
    records = sessions.read_until(lambda rs: envelopes(rs, sid), what="accounts.session.revoked")
    revoked = envelopes(records, sid)[0]
    assert revoked.event_type == "accounts.session.revoked" and revoked.payload["reason"] == "logout"
    wait_until(lambda: not OutboxEvent.objects.filter(sent_at__isnull=True).exists(), what="outbox drained")
