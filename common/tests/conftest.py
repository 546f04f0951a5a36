"""Fixtures for the common package's tests: one GraphQL client per endpoint style."""

from __future__ import annotations

import uuid

import pytest
from common.testing.graphql import GraphQLTestClient
from django.test import Client

ENDPOINTS = {"graphene": "/graphql/", "ariadne": "/ariadne/"}


@pytest.fixture(params=sorted(ENDPOINTS))
def api(request: pytest.FixtureRequest, client: Client, db: None) -> GraphQLTestClient:
    """Each test using it runs against the graphene and the ariadne endpoint.
    (Permission checks may read the user replica, hence the database.)"""
    return GraphQLTestClient(client, ENDPOINTS[request.param])


@pytest.fixture
def new_user_id() -> str:
    return str(uuid.uuid4())
