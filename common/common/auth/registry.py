"""Shared Redis registry of sessions, inactive users and revoked tokens.

STUB (to be replaced by the accounts branch): implements exactly the interface of the
shared contract so the verifying side can be built and tested. Key prefix `auth:`.
"""

from __future__ import annotations

import functools
import os
import time

import redis
from django.conf import settings

PREFIX = "auth:"


@functools.cache
def _client() -> redis.Redis:
    url = getattr(settings, "REDIS_URL", None) or os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _session_key(session_id: str) -> str:
    return f"{PREFIX}session:{session_id}"


def _user_sessions_key(user_id: str) -> str:
    return f"{PREFIX}user-sessions:{user_id}"


def _inactive_key(user_id: str) -> str:
    return f"{PREFIX}user-inactive:{user_id}"


def _revoked_key(jti: str) -> str:
    return f"{PREFIX}revoked:{jti}"


def open_session(*, session_id: str, user_id: str, ttl_seconds: int) -> None:
    pipe = _client().pipeline()
    pipe.set(_session_key(session_id), user_id, ex=ttl_seconds)
    pipe.sadd(_user_sessions_key(user_id), session_id)
    pipe.execute()


def end_session(*, session_id: str) -> None:
    _client().delete(_session_key(session_id))


def end_user_sessions(*, user_id: str, except_session: str | None = None) -> None:
    client = _client()
    for raw in client.smembers(_user_sessions_key(user_id)):
        session_id = raw.decode()
        if session_id != except_session:
            client.delete(_session_key(session_id))
            client.srem(_user_sessions_key(user_id), session_id)


def set_user_active(*, user_id: str, active: bool) -> None:
    if active:
        _client().delete(_inactive_key(user_id))
    else:
        _client().set(_inactive_key(user_id), "1")


def revoke_token(*, jti: str, expires_at: int) -> None:
    ttl = max(1, int(expires_at - time.time()))
    _client().set(_revoked_key(jti), "1", ex=ttl)


def is_session_alive(session_id: str) -> bool:
    return bool(_client().exists(_session_key(session_id)))


def is_user_active(user_id: str) -> bool:
    return not _client().exists(_inactive_key(user_id))


def is_token_revoked(jti: str) -> bool:
    return bool(_client().exists(_revoked_key(jti)))


def check_token_state(*, session_id: str, user_id: str, jti: str) -> str | None:
    """One round trip: the reason a token must be rejected, or None when it is still good."""
    pipe = _client().pipeline(transaction=False)
    pipe.get(_session_key(session_id))
    pipe.exists(_inactive_key(user_id))
    pipe.exists(_revoked_key(jti))
    session_owner, user_inactive, revoked = pipe.execute()
    if session_owner is None:
        return "session ended"
    if session_owner.decode() != str(user_id):
        return "session belongs to another user"
    if user_inactive:
        return "user inactive"
    if revoked:
        return "token revoked"
    return None
