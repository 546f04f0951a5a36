"""Brute-force protection: failed logins counted per account and per client address in Redis.

Fixed windows (INCR + EXPIRE NX): after N failures the account (or address) is refused until
the window ends, even with the right password, so a lockout never confirms a guess. Accounts
are keyed by a hash of the normalized email, existing or not, so the limiter reveals nothing
about which emails are registered.
"""

from __future__ import annotations

import hashlib
import ipaddress

from common.errors import RateLimited
from django.conf import settings
from django.http import HttpRequest
from django_redis import get_redis_connection

PREFIX = "accounts:throttle:"


def _redis():  # type: ignore[no-untyped-def]
    return get_redis_connection("default")


def _account_key(email: str) -> str:
    return f"{PREFIX}login:account:{hashlib.sha256(email.encode()).hexdigest()}"


def _address_key(kind: str, address: str) -> str:
    return f"{PREFIX}{kind}:ip:{address}"


def client_address(request: HttpRequest) -> str:
    """The caller's IP: REMOTE_ADDR, or the entry added by the last trusted proxy in X-Forwarded-For."""
    address = request.META.get("REMOTE_ADDR", "") or "unknown"
    proxies = settings.ACCOUNTS_TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if proxies > 0 and len(forwarded) >= proxies:
        address = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return "unknown"


def _refuse_if_over(limits: list[tuple[str, int]]) -> None:
    pipe = _redis().pipeline(transaction=False)
    for key, _ in limits:
        pipe.get(key)
        pipe.ttl(key)
    answers = pipe.execute()
    retry_after = 0
    for index, (_, limit) in enumerate(limits):
        count, ttl = answers[2 * index], answers[2 * index + 1]
        if count is not None and int(count) >= limit:
            retry_after = max(retry_after, ttl if ttl and ttl > 0 else 1)
    if retry_after:
        raise RateLimited("Too many attempts. Try again later.", retry_after=int(retry_after))


def _count(keys: list[str], window: int) -> None:
    pipe = _redis().pipeline(transaction=True)
    for key in keys:
        pipe.incr(key)
        pipe.expire(key, window, nx=True)
    pipe.execute()


def check_login(*, email: str, address: str) -> None:
    """Raise RateLimited (with retry_after seconds) before the password is even looked at."""
    _refuse_if_over(
        [
            (_account_key(email), settings.ACCOUNTS_LOGIN_MAX_FAILURES_PER_ACCOUNT),
            (_address_key("login", address), settings.ACCOUNTS_LOGIN_MAX_FAILURES_PER_IP),
        ]
    )


def login_failed(*, email: str, address: str) -> None:
    _count([_account_key(email), _address_key("login", address)], settings.ACCOUNTS_LOGIN_WINDOW_SECONDS)


def login_succeeded(*, email: str) -> None:
    # The address counter stays: one good password must not wash away a spray of bad ones.
    _redis().delete(_account_key(email))


def check_password_attempt(*, user_id: str) -> None:
    """changePassword checks the current password: same per-account budget as login."""
    _refuse_if_over([(_account_key(f"user:{user_id}"), settings.ACCOUNTS_LOGIN_MAX_FAILURES_PER_ACCOUNT)])


def password_attempt_failed(*, user_id: str) -> None:
    _count([_account_key(f"user:{user_id}")], settings.ACCOUNTS_LOGIN_WINDOW_SECONDS)


def count_registration(*, address: str) -> None:
    """Registrations per address per hour (account-creation spam); raises once over the limit."""
    key = _address_key("register", address)
    _refuse_if_over([(key, settings.ACCOUNTS_REGISTRATIONS_PER_IP)])
    _count([key], 3600)
