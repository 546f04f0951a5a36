"""Pytest fixtures for services that verify accounts tokens.

Enable with `-p common.auth.pytest_plugin` in the service's pytest.ini addopts.

- `accounts_stub` (session): a real HTTP server serving the JWKS (and `login`) of a test key;
  the service's AUTH_JWKS_URL / AUTH_ACCOUNTS_GRAPHQL_URL point at it for the whole run.
- `tokens` (function): a `TokenMinter` with that key; `tokens.mint(roles=["catalog_manager"])`.
  Each test starts with an empty JWKS cache and state cache.
- `user_event` (function): `user_event("roles_changed", user_id, roles=[...], ...)` applies an accounts
  user event to the service's user replica (`common.auth.testing.user_event`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from common.auth import testing
from common.auth.testing import AccountsStub, KeyPair, TokenMinter


@pytest.fixture(scope="session")
def auth_signing_key() -> KeyPair:
    return KeyPair()


@pytest.fixture(scope="session")
def accounts_stub(auth_signing_key: KeyPair) -> Iterator[AccountsStub]:
    from django.conf import settings

    from common.auth.jwks import reset_jwks_client

    stub = AccountsStub(minter=TokenMinter(auth_signing_key))
    previous = {name: getattr(settings, name, None) for name in ("AUTH_JWKS_URL", "AUTH_ACCOUNTS_GRAPHQL_URL")}
    settings.AUTH_JWKS_URL = stub.jwks_url
    settings.AUTH_ACCOUNTS_GRAPHQL_URL = stub.graphql_url
    reset_jwks_client()
    yield stub
    stub.close()
    for name, value in previous.items():
        if value is None:
            delattr(settings, name)
        else:
            setattr(settings, name, value)
    reset_jwks_client()


@pytest.fixture
def tokens(accounts_stub: AccountsStub, auth_signing_key: KeyPair) -> Iterator[TokenMinter]:
    from common.auth.jwks import reset_jwks_client
    from common.auth.tokens import clear_state_cache, clear_verified_cache

    accounts_stub.jwks_keys = [auth_signing_key.jwk()]
    accounts_stub.jwks_down = False
    accounts_stub.accounts.clear()
    reset_jwks_client()
    clear_state_cache()
    clear_verified_cache()
    yield accounts_stub.minter
    clear_state_cache()
    clear_verified_cache()


@pytest.fixture
def user_event(db: None) -> Callable[..., bool]:
    return testing.user_event
