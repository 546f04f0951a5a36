"""Accounts test fixtures: real PostgreSQL and Redis, a GraphQL client, users and logins.
`recorded_events` (the outbox rows a test wrote) comes from `common.testing.plugin` (pytest.ini)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from accounts import keys
from accounts.models import User
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client, override_settings
from django_redis import get_redis_connection

from tests.helpers import PASSWORD, GraphQLClient, ensure_roles

pytest_plugins = ["common.events.testing"]  # real broker fixtures (kafka_broker, run_relay, topic_reader)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    """A reused test database may have been flushed by a transactional test of an earlier run."""
    with django_db_blocker.unblock():
        ensure_roles()


@pytest.fixture
def committed_roles(transactional_db: None) -> None:
    """For transactional tests: the flush after each one empties every table, roles included."""
    ensure_roles()


@pytest.fixture(scope="session", autouse=True)
def signing_keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Tests sign with their own throw-away keys, never the development ones in .run/keys."""
    path = str(tmp_path_factory.mktemp("signing-keys"))
    previous = settings.ACCOUNTS_SIGNING_KEYS_DIR
    settings.ACCOUNTS_SIGNING_KEYS_DIR = path
    settings.ACCOUNTS_SIGNING_KEYS_AUTOCREATE = True
    yield path
    settings.ACCOUNTS_SIGNING_KEYS_DIR = previous


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing() -> Iterator[None]:
    others = [name for name in settings.PASSWORD_HASHERS if not name.endswith(".Argon2PasswordHasher")]
    with override_settings(PASSWORD_HASHERS=["tests.hashers.FastArgon2PasswordHasher", *others]):
        yield


@pytest.fixture(autouse=True)
def clean_throttles() -> None:
    """Failed-login counters are keyed by email and address, which tests reuse: start each test clean."""
    connection = get_redis_connection("default")
    stale = list(connection.scan_iter("accounts:throttle:*", count=1000))
    if stale:
        connection.delete(*stale)


@pytest.fixture
def gql(client: Client) -> GraphQLClient:
    return GraphQLClient(client)


@pytest.fixture
def new_gql() -> Callable[..., GraphQLClient]:
    """Another browser/device: its own cookie jar."""
    return lambda **kwargs: GraphQLClient(Client(**kwargs))


_emails = itertools.count(1)


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(email: str | None = None, *, password: str = PASSWORD, roles: tuple[str, ...] = ("customer",),
             **fields: Any) -> User:
        user = User.objects.create_user(email=email or f"user{next(_emails)}@example.com", password=password, **fields)
        user.groups.set(Group.objects.filter(name__in=roles))
        return user

    return make


@pytest.fixture
def user(make_user: Callable[..., User]) -> User:
    return make_user("casey@example.com", full_name="Casey Customer")


@pytest.fixture
def keyring() -> keys.Keyring:
    return keys.keyring()


