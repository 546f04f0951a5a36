"""Queries and helpers shared by the accounts tests."""

from __future__ import annotations

from importlib import import_module
from typing import Any

import jwt
from django.test import Client

PASSWORD = "Sturdy-test-pass-42"

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) {
    accessToken accessTokenExpiresAt refreshToken refreshTokenExpiresAt tokenType
    session { id current }
    user { id email roles permissions }
  }
}
"""
REFRESH = """
mutation Refresh($token: String!) {
  refreshToken(refreshToken: $token) { accessToken refreshToken session { id } }
}
"""
ME = "{ me { id email roles permissions } }"


class GraphQLClient:
    def __init__(self, client: Client) -> None:
        self.client = client

    def execute(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None,
                **extra: Any) -> dict[str, Any]:
        if token:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        response = self.client.post(
            "/graphql/", {"query": query, "variables": variables or {}}, content_type="application/json", **extra
        )
        assert response.status_code < 500, response.content
        self.last_response = response
        return response.json()

    def data(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        body = self.execute(query, variables, **kwargs)
        assert "errors" not in body, body["errors"]
        return body["data"]

    def error(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        body = self.execute(query, variables, **kwargs)
        assert body.get("errors"), body
        return body["errors"][0]

    def login(self, email: str, password: str = PASSWORD, **kwargs: Any) -> dict[str, Any]:
        return self.data(LOGIN, {"email": email, "password": password}, **kwargs)["login"]


def event_types(events: list[dict[str, Any]]) -> list[str]:
    return [event["event_type"] for event in events]



def ensure_roles() -> None:
    """Recreate what the roles data migration made (idempotent): transactional tests flush every table."""
    from django.apps import apps

    import_module("accounts.migrations.0002_roles").create_roles(apps, None)


def claims_of(token: str) -> dict[str, Any]:
    """Payload without verification (tests look at what was issued; verification is tested separately)."""
    return jwt.decode(token, options={"verify_signature": False})
