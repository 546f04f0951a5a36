"""Fixtures for the common package's tests: one GraphQL client per endpoint style."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from common.auth.replica.sync import apply_user_event
from common.testing.graphql import GraphQLTestClient
from django.test import Client

ENDPOINTS = {"graphene": "/graphql/", "ariadne": "/ariadne/"}


@pytest.fixture(params=sorted(ENDPOINTS))
def api(request: pytest.FixtureRequest, client: Client, db: None) -> GraphQLTestClient:
    """Each test using it runs against the graphene and the ariadne endpoint.
    (Permission checks may read the user replica, hence the database.)"""
    return GraphQLTestClient(client, ENDPOINTS[request.param])


@pytest.fixture
def user_event(db: None) -> Callable[..., bool]:
    """Apply an accounts user event to the replica as the consumer would (snapshot payload)."""

    def apply(event_type: str, user_id: str, *, at: dt.datetime | None = None, **snapshot: Any) -> bool:
        snapshot.setdefault("id", user_id)
        return apply_user_event(
            event_type=f"accounts.user.{event_type}",
            user_id=user_id,
            occurred_at=(at or dt.datetime.now(dt.UTC)).isoformat(),
            payload={"user": snapshot},
        )

    return apply


@pytest.fixture
def new_user_id() -> str:
    return str(uuid.uuid4())
