"""Brute-force protection: failed logins counted in Redis, so an attacker cannot lock a user out.

- Per (account, client address): after `ACCOUNTS_LOGIN_MAX_FAILURES_PER_ACCOUNT` failures in the
  window, that account is refused *from that address* until the window ends, even with the right
  password (a lockout never confirms a guess). The owner signing in from elsewhere is not affected.
- Per client address: `ACCOUNTS_LOGIN_MAX_FAILURES_PER_IP` failures over any accounts (spraying).
- Per account, from anywhere: past `ACCOUNTS_LOGIN_BACKOFF_AFTER` failures in the window every
  further failure imposes a short, growing pause (2, 4, 8 ... s, at most
  `ACCOUNTS_LOGIN_MAX_BACKOFF_SECONDS`) on every address: a distributed guesser is slowed down,
  while a lockout costs the real user seconds, not the window (the django-axes trade-off).

Accounts are keyed by a hash of the normalized email, existing or not, so the limiter reveals
nothing about which emails are registered. `changePassword` spends the same budget as login.
The client address comes from `client_address`: X-Forwarded-For is believed only from a trusted proxy.
"""

from __future__ import annotations

import hashlib
import ipaddress
from functools import lru_cache

from common.errors import RateLimited
from django.conf import settings
from django.http import HttpRequest
from django_redis import get_redis_connection

PREFIX = "accounts:throttle:"


def _redis():  # type: ignore[no-untyped-def]
    return get_redis_connection("default")


def _hash(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()


def _account_key(email: str) -> str:
    return f"{PREFIX}login:account:{_hash(email)}"


def _pair_key(email: str, address: str) -> str:
    return f"{PREFIX}login:pair:{_hash(email)}:{address}"


def _backoff_key(email: str) -> str:
    return f"{PREFIX}login:backoff:{_hash(email)}"


def _address_key(kind: str, address: str) -> str:
    return f"{PREFIX}{kind}:ip:{address}"


@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in spec)


def _is_trusted(address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: HttpRequest) -> str:
    """The caller's IP.

    With `ACCOUNTS_TRUSTED_PROXY_COUNT` = N > 0: the entry the last of N proxies added to
    X-Forwarded-For. Otherwise, when the peer (REMOTE_ADDR) is one of `ACCOUNTS_TRUSTED_PROXIES`
    (the gateway; loopback by default): the right-most X-Forwarded-For entry that is not itself a
    trusted proxy. Anyone else's X-Forwarded-For is ignored (clients could forge it).
    """
    address = request.META.get("REMOTE_ADDR", "") or "unknown"
    proxies = settings.ACCOUNTS_TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if proxies > 0:
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    elif forwarded:
        networks = _networks(tuple(getattr(settings, "ACCOUNTS_TRUSTED_PROXIES", ())))
        if _is_trusted(address, networks):
            for hop in reversed(forwarded):
                address = hop
                if not _is_trusted(hop, networks):
                    break
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return "unknown"


def _refuse_if_over(limits: list[tuple[str, int]], blocks: list[str] = ()) -> None:  # type: ignore[assignment]
    pipe = _redis().pipeline(transaction=False)
    for key, _ in limits:
        pipe.get(key)
        pipe.ttl(key)
    for key in blocks:
        pipe.ttl(key)
    answers = pipe.execute()
    retry_after = 0
    for index, (_, limit) in enumerate(limits):
        count, ttl = answers[2 * index], answers[2 * index + 1]
        if count is not None and int(count) >= limit:
            retry_after = max(retry_after, ttl if ttl and ttl > 0 else 1)
    for ttl in answers[2 * len(limits):]:
        if ttl is not None and ttl > 0:
            retry_after = max(retry_after, ttl)
    if retry_after:
        raise RateLimited("Too many attempts. Try again later.", retry_after=int(retry_after))


def _count(keys: list[str], window: int) -> list[int]:
    pipe = _redis().pipeline(transaction=True)
    for key in keys:
        pipe.incr(key)
        pipe.expire(key, window, nx=True)
    answers = pipe.execute()
    return [int(answers[2 * index]) for index in range(len(keys))]


def check_login(*, email: str, address: str) -> None:
    """Raise RateLimited (with retry_after seconds) before the password is even looked at."""
    _refuse_if_over(
        [
            (_pair_key(email, address), settings.ACCOUNTS_LOGIN_MAX_FAILURES_PER_ACCOUNT),
            (_address_key("login", address), settings.ACCOUNTS_LOGIN_MAX_FAILURES_PER_IP),
        ],
        [_backoff_key(email)],
    )


def login_failed(*, email: str, address: str) -> None:
    window = settings.ACCOUNTS_LOGIN_WINDOW_SECONDS
    account_failures, _, _ = _count([_account_key(email), _pair_key(email, address), _address_key("login", address)], window)
    over = account_failures - settings.ACCOUNTS_LOGIN_BACKOFF_AFTER
    if over >= 0:
        pause = min(2 ** min(over + 1, 16), settings.ACCOUNTS_LOGIN_MAX_BACKOFF_SECONDS)
        _redis().set(_backoff_key(email), 1, ex=max(int(pause), 1))


def login_succeeded(*, email: str, address: str = "") -> None:
    # The address counter stays: one good password must not wash away a spray of bad ones.
    keys = [_account_key(email), _backoff_key(email)] + ([_pair_key(email, address)] if address else [])
    _redis().delete(*keys)


def check_password_attempt(*, email: str, address: str) -> None:
    """changePassword checks the current password: the same budget as login for that account."""
    check_login(email=email, address=address)


def password_attempt_failed(*, email: str, address: str) -> None:
    login_failed(email=email, address=address)


def count_registration(*, address: str) -> None:
    """Registrations per address per hour (account-creation spam); raises once over the limit."""
    key = _address_key("register", address)
    _refuse_if_over([(key, settings.ACCOUNTS_REGISTRATIONS_PER_IP)])
    _count([key], 3600)
