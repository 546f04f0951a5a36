"""Queries and helpers shared by the accounts tests."""

from __future__ import annotations

from importlib import import_module
from typing import Any

import jwt
from common.testing.graphql import GraphQLTestClient

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


class GraphQLClient(GraphQLTestClient):
    """The shared GraphQL test client plus accounts' own `login` shortcut."""

    def login(self, email: str, password: str = PASSWORD, **kwargs: Any) -> dict[str, Any]:
        return self.data(LOGIN, {"email": email, "password": password}, **kwargs)["login"]


def ensure_roles() -> None:
    """Recreate what the roles data migration made (idempotent): transactional tests flush every table."""
    from django.apps import apps

    import_module("accounts.migrations.0002_roles").create_roles(apps, None)


def claims_of(token: str) -> dict[str, Any]:
    """Payload without verification (tests look at what was issued; verification is tested separately)."""
    return jwt.decode(token, options={"verify_signature": False})
