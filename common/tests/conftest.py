"""Fixtures for the common package's tests: one GraphQL client per endpoint style."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from common.auth.replica.sync import apply_user_event
from django.test import Client

ENDPOINTS = {"graphene": "/graphql/", "ariadne": "/ariadne/"}


class GraphQL:
    def __init__(self, client: Client, path: str) -> None:
        self.client = client
        self.path = path

    def post(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None, **headers: str) -> dict:
        if token is not None:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        response = self.client.post(
            self.path, {"query": query, "variables": variables or {}}, content_type="application/json", **headers
        )
        assert response.status_code < 500, response.content
        return response.json()

    def code(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None, **headers: str) -> str | None:
        """The first error's extensions.code, or None when the operation succeeded."""
        body = self.post(query, variables, token, **headers)
        errors = body.get("errors")
        return errors[0]["extensions"]["code"] if errors else None


@pytest.fixture(params=sorted(ENDPOINTS))
def api(request: pytest.FixtureRequest, client: Client, db: None) -> GraphQL:
    """Each test using it runs against the graphene and the ariadne endpoint.
    (Permission checks may read the user replica, hence the database.)"""
    return GraphQL(client, ENDPOINTS[request.param])


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
