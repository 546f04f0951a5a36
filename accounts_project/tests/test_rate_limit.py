"""Brute-force protection on login: per (account, address), per address, and a short global
per-account backoff, Redis-backed; changePassword spends the same budget."""

from __future__ import annotations

import pytest

from tests.helpers import LOGIN, PASSWORD

pytestmark = pytest.mark.django_db


def attempt(gql, email: str, password: str, address: str = "203.0.113.1") -> dict:
    return gql.execute(LOGIN, {"email": email, "password": password}, REMOTE_ADDR=address)


def code(body: dict) -> str | None:
    return body["errors"][0]["extensions"]["code"] if body.get("errors") else None


def test_an_account_is_locked_from_the_attacking_address_even_for_the_right_password(gql, user, settings):
    limit = settings.ACCOUNTS_LOGIN_MAX_FAILURES_PER_ACCOUNT
    for _ in range(limit):
        assert code(attempt(gql, "casey@example.com", "Wrong-password-1", "203.0.113.7")) == "UNAUTHENTICATED"
    locked = attempt(gql, "casey@example.com", PASSWORD, "203.0.113.7")
    assert code(locked) == "RATE_LIMITED"
    error = locked["errors"][0]
    assert 0 < error["extensions"]["retryAfter"] <= settings.ACCOUNTS_LOGIN_WINDOW_SECONDS
    assert "Too many attempts" in error["message"]
    assert "data" not in locked or locked["data"] is None


def test_an_attacker_cannot_lock_out_the_owner_signing_in_from_elsewhere(gql, user, settings):
    # Issue 13: five failures from anywhere used to lock the victim out for 15 minutes.
    for _ in range(settings.ACCOUNTS_LOGIN_MAX_FAILURES_PER_ACCOUNT * 3):
        attempt(gql, "casey@example.com", "Wrong-password-1", "198.51.100.9")
    assert code(attempt(gql, "casey@example.com", PASSWORD, "203.0.113.200")) is None


def test_a_distributed_guesser_gets_a_short_global_backoff(gql, user, settings):
    settings.ACCOUNTS_LOGIN_BACKOFF_AFTER = 6
    settings.ACCOUNTS_LOGIN_MAX_BACKOFF_SECONDS = 30
    for n in range(6):  # one failure per address: no (account, address) limit is reached
        assert code(attempt(gql, "casey@example.com", "Wrong-password-1", f"203.0.113.{n + 10}")) == "UNAUTHENTICATED"
    paused = attempt(gql, "casey@example.com", PASSWORD, "203.0.113.31")
    assert code(paused) == "RATE_LIMITED"
    assert paused["errors"][0]["extensions"]["retryAfter"] <= 30  # seconds, not the 15-minute window


def test_change_password_spends_the_login_budget(gql, user, settings):
    token = gql.login("casey@example.com", REMOTE_ADDR="203.0.113.5")["accessToken"]
    change = "mutation($c: String!) { changePassword(currentPassword: $c, newPassword: \"Brand-new-pass-77\") { endedSessions } }"
    for _ in range(settings.ACCOUNTS_LOGIN_MAX_FAILURES_PER_ACCOUNT):
        body = gql.execute(change, {"c": "Wrong-password-1"}, token=token, REMOTE_ADDR="203.0.113.5")
        assert code(body) == "BAD_USER_INPUT"
    assert code(gql.execute(change, {"c": PASSWORD}, token=token, REMOTE_ADDR="203.0.113.5")) == "RATE_LIMITED"
    assert code(attempt(gql, "casey@example.com", PASSWORD, "203.0.113.5")) == "RATE_LIMITED"
    assert code(attempt(gql, "casey@example.com", PASSWORD, "203.0.113.6")) is None


def test_unknown_accounts_are_limited_the_same_way(gql, settings):
    for _ in range(settings.ACCOUNTS_LOGIN_MAX_FAILURES_PER_ACCOUNT):
        assert code(attempt(gql, "ghost@example.com", "Wrong-password-1")) == "UNAUTHENTICATED"
    assert code(attempt(gql, "ghost@example.com", "Wrong-password-1")) == "RATE_LIMITED"


def test_a_locked_account_does_not_lock_others(gql, user, make_user, settings):
    make_user("other@example.com")
    for _ in range(settings.ACCOUNTS_LOGIN_MAX_FAILURES_PER_ACCOUNT):
        attempt(gql, "casey@example.com", "Wrong-password-1", "203.0.113.10")
    assert code(attempt(gql, "other@example.com", PASSWORD, "203.0.113.10")) is None


def test_a_good_login_resets_the_account_counter(gql, user, settings):
    limit = settings.ACCOUNTS_LOGIN_MAX_FAILURES_PER_ACCOUNT
    for _ in range(limit - 1):
        attempt(gql, "casey@example.com", "Wrong-password-1")
    assert code(attempt(gql, "casey@example.com", PASSWORD)) is None
    for _ in range(limit - 1):
        attempt(gql, "casey@example.com", "Wrong-password-1")
    assert code(attempt(gql, "casey@example.com", PASSWORD)) is None


def test_an_address_spraying_many_accounts_is_limited(gql, user, settings):
    settings.ACCOUNTS_LOGIN_MAX_FAILURES_PER_IP = 6
    for n in range(6):  # one failure per account: no account limit is reached
        assert code(attempt(gql, f"victim{n}@example.com", "Spray-password-1", "192.0.2.66")) == "UNAUTHENTICATED"
    assert code(attempt(gql, "casey@example.com", PASSWORD, "192.0.2.66")) == "RATE_LIMITED"
    # The same account from another address still works.
    assert code(attempt(gql, "casey@example.com", PASSWORD, "192.0.2.67")) is None


def test_forwarded_address_is_used_only_behind_a_trusted_proxy(gql, user, settings):
    settings.ACCOUNTS_LOGIN_MAX_FAILURES_PER_IP = 2
    settings.ACCOUNTS_TRUSTED_PROXY_COUNT = 1
    for n in range(2):
        gql.execute(LOGIN, {"email": f"x{n}@example.com", "password": "Nope-nope-123"},
                    REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="spoofed, 192.0.2.10")
    limited = gql.execute(LOGIN, {"email": "casey@example.com", "password": PASSWORD},
                          REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.10")
    assert code(limited) == "RATE_LIMITED"
    other_client = gql.execute(LOGIN, {"email": "casey@example.com", "password": PASSWORD},
                               REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.11")
    assert code(other_client) is None


def test_forwarded_address_from_a_trusted_proxy_network(gql, user, settings):
    # Default: the count is 0 and the gateway (loopback) is the trusted proxy.
    settings.ACCOUNTS_LOGIN_MAX_FAILURES_PER_IP = 2
    settings.ACCOUNTS_TRUSTED_PROXY_COUNT = 0
    settings.ACCOUNTS_TRUSTED_PROXIES = ["127.0.0.1/32", "10.0.0.0/8"]
    for n in range(2):
        gql.execute(LOGIN, {"email": f"y{n}@example.com", "password": "Nope-nope-123"},
                    REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.20, 10.1.2.3")
    limited = gql.execute(LOGIN, {"email": "casey@example.com", "password": PASSWORD},
                          REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="192.0.2.20")
    assert code(limited) == "RATE_LIMITED"
    # An untrusted peer's X-Forwarded-For is ignored: it cannot pose as 192.0.2.20, nor dodge its own limit.
    direct = gql.execute(LOGIN, {"email": "casey@example.com", "password": PASSWORD},
                         REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR="192.0.2.20")
    assert code(direct) is None
