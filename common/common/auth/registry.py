"""The shared Redis registry of live sessions, inactive users and revoked tokens.

The accounts service writes it (its PostgreSQL tables stay the source of truth; this is the
fast mirror); every service reads it on every authenticated request. One key family per fact,
all under the prefix `auth:`:

    auth:session:<sid>           -> user id         alive while the key exists (TTL = session expiry)
    auth:user:<uid>:sessions     -> set of sids     lets accounts end all of a user's sessions at once
    auth:user:<uid>:inactive     -> "1"             present only for deactivated users (no TTL)
    auth:revoked:<jti>           -> "1"             a single revoked token, kept until the token expires

Unknown session = dead (fail closed); unknown user = active unless marked inactive.
"""

from __future__ import annotations

import os
import threading
import time

import redis

PREFIX = "auth:"

# Reasons returned by check_token_state; services may show or log them.
SESSION_ENDED = "session ended"
SESSION_USER_MISMATCH = "session belongs to another user"
USER_INACTIVE = "user inactive"
TOKEN_REVOKED = "token revoked"  # noqa: S105 - a reason, not a secret

_client: redis.Redis | None = None
_client_url: str | None = None
_client_lock = threading.Lock()


def registry_url() -> str:
    """AUTH_REGISTRY_REDIS_URL, else REDIS_URL (Django setting or environment). All services must agree."""
    try:
        from django.conf import settings

        for name in ("AUTH_REGISTRY_REDIS_URL", "REDIS_URL"):
            value = getattr(settings, name, None) if settings.configured else None
            if value:
                return str(value)
    except ImportError:  # usable without Django (scripts, benchmarks)
        pass
    return os.environ.get("AUTH_REGISTRY_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def client() -> redis.Redis:
    """One connection pool per process (redis-py pools are fork-safe and thread-safe)."""
    global _client, _client_url
    url = registry_url()
    if _client is None or _client_url != url:
        with _client_lock:
            if _client is None or _client_url != url:
                _client = redis.Redis.from_url(
                    url, decode_responses=True, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
                )
                _client_url = url
    return _client


def reset_client() -> None:
    """Forget the pooled client (tests that switch REDIS_URL)."""
    global _client, _client_url
    with _client_lock:
        _client, _client_url = None, None


def session_key(session_id: str) -> str:
    return f"{PREFIX}session:{session_id}"


def user_sessions_key(user_id: str) -> str:
    return f"{PREFIX}user:{user_id}:sessions"


def user_inactive_key(user_id: str) -> str:
    return f"{PREFIX}user:{user_id}:inactive"


def revoked_key(jti: str) -> str:
    return f"{PREFIX}revoked:{jti}"


# --- write side (the accounts service) ---------------------------------------------------------


def open_session(*, session_id: str, user_id: str, ttl_seconds: int) -> None:
    """Mark a session alive for ttl_seconds (a new session, or a restore from the database)."""
    ttl = max(1, int(ttl_seconds))
    sessions = user_sessions_key(user_id)
    pipe = client().pipeline(transaction=True)
    pipe.set(session_key(session_id), user_id, ex=ttl)
    pipe.sadd(sessions, session_id)
    # The index lives as long as its longest session; GT never shortens it.
    pipe.expire(sessions, ttl, nx=True)
    pipe.expire(sessions, ttl, gt=True)
    pipe.execute()


def extend_session(*, session_id: str, ttl_seconds: int) -> bool:
    """Push a live session's expiry out (refresh). Never resurrects an ended session: False if it is gone."""
    ttl = max(1, int(ttl_seconds))
    pipe = client().pipeline(transaction=True)
    pipe.expire(session_key(session_id), ttl)  # EXPIRE never creates a key
    pipe.get(session_key(session_id))
    extended, user_id = pipe.execute()
    if not extended or user_id is None:
        return False
    client().expire(user_sessions_key(user_id), ttl, gt=True)
    return True


def end_session(*, session_id: str) -> None:
    """Every token of this session is rejected from now on, in every service."""
    key = session_key(session_id)
    user_id = client().getdel(key)
    if user_id:
        client().srem(user_sessions_key(user_id), session_id)


def end_user_sessions(*, user_id: str, except_session: str | None = None) -> list[str]:
    """End all sessions of a user (optionally keeping one); returns the ended session ids."""
    sessions = user_sessions_key(user_id)
    ended = [sid for sid in client().smembers(sessions) if sid != except_session]
    if not ended:
        return []
    pipe = client().pipeline(transaction=True)
    pipe.delete(*(session_key(sid) for sid in ended))
    pipe.srem(sessions, *ended)
    pipe.execute()
    return ended


def set_user_active(*, user_id: str, active: bool) -> None:
    if active:
        client().delete(user_inactive_key(user_id))
    else:
        client().set(user_inactive_key(user_id), "1")


def revoke_token(*, jti: str, expires_at: int) -> None:
    """Reject one token until it expires anyway (expires_at = its `exp`, seconds since the epoch)."""
    ttl = int(expires_at - time.time()) + 60  # a minute beyond exp covers verifiers' clock leeway
    if ttl > 0:
        client().set(revoked_key(jti), "1", ex=ttl)


# --- read side (every service) -----------------------------------------------------------------


def is_session_alive(session_id: str) -> bool:
    return bool(client().exists(session_key(session_id)))


def is_user_active(user_id: str) -> bool:
    return not client().exists(user_inactive_key(user_id))


def is_token_revoked(jti: str) -> bool:
    return bool(client().exists(revoked_key(jti)))


def check_token_state(*, session_id: str, user_id: str, jti: str) -> str | None:
    """All three checks in one round trip. None = the token may be used; else why it must be rejected."""
    pipe = client().pipeline(transaction=False)
    pipe.get(session_key(session_id))
    pipe.exists(user_inactive_key(user_id))
    pipe.exists(revoked_key(jti))
    session_owner, inactive, revoked = pipe.execute()
    if session_owner is None:
        return SESSION_ENDED
    if session_owner != str(user_id):
        return SESSION_USER_MISMATCH
    if inactive:
        return USER_INACTIVE
    if revoked:
        return TOKEN_REVOKED
    return None
