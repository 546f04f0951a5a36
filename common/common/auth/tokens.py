"""Access-token verification: signature, claims, then live session state.

1. Header: `alg` must be exactly RS256 (no `none`, no HS256 signed with our public key) and
   a `kid` must name a key in the accounts JWKS.
2. Signature with that key (PyJWT, algorithms pinned to RS256).
3. Claims: `exp`/`nbf`/`iat` with a small leeway, `iss` and `aud` equal to the settings,
   `typ == "access"` and every claim of the contract present and well-formed.
   A verified token is remembered per process for AUTH_VERIFIED_TOKEN_CACHE_SECONDS (60 s, 0 = off):
   a repeat skips the signature and claim parsing, not the expiry, the kid's presence in the JWKS,
   or step 4.
4. State, in the shared Redis registry (one round trip): the session is alive, the user is
   active, the jti is not revoked. The answer is reused in-process for at most
   AUTH_STATE_CACHE_SECONDS (≤ 1 s), so a logout or deactivation is seen everywhere within a second.

Any failure raises `InvalidToken`; its message is safe to show to the client.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from redis.exceptions import RedisError

from common.auth import registry
from common.auth.conf import auth_setting, state_cache_seconds
from common.auth.jwks import ALGORITHM, get_jwks_client

logger = logging.getLogger("common.auth")

MAX_TOKEN_LENGTH = 8192
REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp", "iat", "nbf", "jti", "typ", "sid"]
ACCESS = "access"

INVALID = "Invalid access token."
EXPIRED = "Access token expired."
STATE_REJECTED = "The session of this access token is no longer valid."
STATE_UNAVAILABLE = "The access token could not be validated right now; try again."


class InvalidToken(Exception):
    """A present token that must be rejected. `message` is for the client, `reason` for logs."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(reason)
        self.message = message
        self.reason = reason


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    session_id: str
    token_id: str
    email: str
    roles: frozenset[str]
    perms: frozenset[str]
    staff: bool
    issued_at: int
    expires_at: int


def verify_access_token(token: str, *, check_state: bool = True) -> AccessClaims:
    claims = _decode(token)
    if check_state:
        check_state_or_raise(session_id=claims.session_id, user_id=claims.user_id, jti=claims.token_id)
    return claims


def _decode(token: str) -> AccessClaims:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken(INVALID, "empty or oversized token")
    ttl = float(auth_setting("AUTH_VERIFIED_TOKEN_CACHE_SECONDS"))
    if ttl <= 0:
        return _verify(token)[0]
    leeway = int(auth_setting("AUTH_LEEWAY_SECONDS"))
    key = (token, auth_setting("AUTH_ISSUER"), auth_setting("AUTH_AUDIENCE"), leeway)
    cached = _verified.get(key)
    # A hit skips only the RSA signature and the claim parsing: expiry is checked against the clock
    # every time, the kid must still be in the JWKS (a withdrawn key stops its tokens as before),
    # and the caller still asks the session registry.
    if cached is not None:
        claims, kid, public_key = cached
        if time.time() > claims.expires_at + leeway:
            raise InvalidToken(EXPIRED, "expired")
        if get_jwks_client().get_key(kid) is public_key:  # the same published key object, not only the kid
            return claims
    verified = _verify(token)
    _verified.put(key, verified, ttl)
    return verified[0]


def _verify(token: str) -> tuple[AccessClaims, str, Any]:
    """Signature and claims, the full check; returns the claims, the kid and the key that verified them."""
    header = _unverified_header(token)
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(INVALID, f"algorithm {header.get('alg')!r} not accepted")
    if "crit" in header:
        raise InvalidToken(INVALID, "critical header extensions are not supported")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > 200:
        raise InvalidToken(INVALID, "missing or malformed kid")
    key = get_jwks_client().get_key(kid)
    if key is None:
        raise InvalidToken(INVALID, f"unknown kid {kid[:40]!r}")
    try:
        payload = jwt.decode(
            token,
            key=key,
            algorithms=[ALGORITHM],
            audience=auth_setting("AUTH_AUDIENCE"),
            issuer=auth_setting("AUTH_ISSUER"),
            leeway=int(auth_setting("AUTH_LEEWAY_SECONDS")),
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken(EXPIRED, "expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken(INVALID, f"{exc.__class__.__name__}: {exc}") from exc
    return _claims(payload), kid, key


class _ExpiringEntries:
    """A small per-process map whose entries expire; bounded (expired entries go first, then all)."""

    MAX_ENTRIES = 4096

    def __init__(self) -> None:
        self._entries: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def lookup(self, key: Any) -> tuple[bool, Any]:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, key: Any, value: Any, ttl: float) -> None:
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                now = time.monotonic()
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                if len(self._entries) >= self.MAX_ENTRIES:
                    self._entries.clear()
            self._entries[key] = (time.monotonic() + ttl, value)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class _VerifiedTokens(_ExpiringEntries):
    """Token text (+ issuer, audience, leeway) -> verified claims, per process, for a minute at most.

    Verifying RS256 and parsing the claims is the largest part of a token check (bench/auth_verify.py);
    a client sends the same token on every request until it refreshes it. Only successes are kept."""

    MAX_ENTRIES = 4096

    def get(self, key: tuple[Any, ...]) -> tuple[AccessClaims, str, Any] | None:
        return self.lookup(key)[1]


_verified = _VerifiedTokens()


def clear_verified_cache() -> None:
    _verified.clear()


def _unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header, read only to choose the key and refuse a wrong `alg` early. PyJWT then
    validates the whole token (header included) once; `jwt.get_unverified_header` would decode
    and validate all three segments a second time, the costliest part of verification."""
    segment = token.split(".", 1)[0]
    if len(segment) > 1024:
        raise InvalidToken(INVALID, "header too long")
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InvalidToken(INVALID, f"malformed header: {exc}") from exc
    if not isinstance(header, dict):
        raise InvalidToken(INVALID, "header is not a JSON object")
    return header


def _claims(payload: dict[str, Any]) -> AccessClaims:
    if payload.get("typ") != ACCESS:
        raise InvalidToken(INVALID, f"typ {payload.get('typ')!r} is not an access token")
    try:
        user_id = str(uuid.UUID(str(payload["sub"])))
    except ValueError as exc:
        raise InvalidToken(INVALID, "sub is not a UUID") from exc
    session_id, token_id = payload["sid"], payload["jti"]
    if not (isinstance(session_id, str) and session_id and isinstance(token_id, str) and token_id):
        raise InvalidToken(INVALID, "sid/jti must be non-empty strings")
    roles, perms = payload.get("roles", []), payload.get("perms", [])
    if not (_is_str_list(roles) and _is_str_list(perms)):
        raise InvalidToken(INVALID, "roles/perms must be lists of strings")
    email, staff = payload.get("email", ""), payload.get("staff", False)
    if not isinstance(email, str) or not isinstance(staff, bool):
        raise InvalidToken(INVALID, "email/staff malformed")
    return AccessClaims(
        user_id=user_id,
        session_id=session_id,
        token_id=token_id,
        email=email,
        roles=frozenset(roles),
        perms=frozenset(perms),
        staff=staff,
        issued_at=int(payload["iat"]),
        expires_at=int(payload["exp"]),
    )


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


# --- session state ------------------------------------------------------------------------------


class _StateCache(_ExpiringEntries):
    """(session, user, jti) -> rejection reason, kept for a fraction of a second per process."""

    MAX_ENTRIES = 10_000

    def get(self, key: tuple[str, str, str]) -> tuple[bool, str | None]:
        return self.lookup(key)


_state_cache = _StateCache()


def token_state(*, session_id: str, user_id: str, jti: str) -> str | None:
    """Why the registry rejects this token (None = still good), through the sub-second cache."""
    key = (session_id, user_id, jti)
    ttl = state_cache_seconds()
    if ttl > 0:
        hit, reason = _state_cache.get(key)
        if hit:
            return reason
    reason = registry.check_token_state(session_id=session_id, user_id=user_id, jti=jti)
    if ttl > 0:
        _state_cache.put(key, reason, ttl)
    return reason


def check_state_or_raise(*, session_id: str, user_id: str, jti: str) -> None:
    try:
        reason = token_state(session_id=session_id, user_id=user_id, jti=jti)
    except RedisError as exc:
        # Fail closed: without the registry we cannot tell a revoked token from a good one.
        logger.error("Auth registry unavailable: %s", exc)
        raise InvalidToken(STATE_UNAVAILABLE, f"registry unavailable: {exc}") from exc
    if reason is not None:
        raise InvalidToken(STATE_REJECTED, reason)


def clear_state_cache() -> None:
    _state_cache.clear()
