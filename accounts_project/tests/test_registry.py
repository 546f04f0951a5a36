"""common.auth.registry: the shared Redis view of sessions, inactive users and revoked tokens."""

from __future__ import annotations

import time
import uuid

import pytest
from common.auth import registry


@pytest.fixture
def ids() -> tuple[str, str, str]:
    return str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())


def test_a_session_is_alive_until_ended(ids):
    sid, uid, jti = ids
    assert registry.check_token_state(session_id=sid, user_id=uid, jti=jti) == registry.SESSION_ENDED
    registry.open_session(session_id=sid, user_id=uid, ttl_seconds=60)
    assert registry.is_session_alive(sid)
    assert registry.check_token_state(session_id=sid, user_id=uid, jti=jti) is None
    assert 55 <= registry.client().ttl(registry.session_key(sid)) <= 60
    registry.end_session(session_id=sid)
    assert not registry.is_session_alive(sid)
    assert registry.check_token_state(session_id=sid, user_id=uid, jti=jti) == registry.SESSION_ENDED
    assert sid not in registry.client().smembers(registry.user_sessions_key(uid))


def test_a_session_is_bound_to_its_user(ids):
    sid, uid, jti = ids
    registry.open_session(session_id=sid, user_id=uid, ttl_seconds=60)
    assert registry.check_token_state(session_id=sid, user_id=str(uuid.uuid4()), jti=jti) == registry.SESSION_USER_MISMATCH


def test_sessions_expire_with_their_ttl(ids):
    sid, uid, _ = ids
    registry.open_session(session_id=sid, user_id=uid, ttl_seconds=1)
    deadline = time.monotonic() + 5
    while registry.is_session_alive(sid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not registry.is_session_alive(sid)


def test_end_user_sessions_keeps_the_one_asked_for(ids):
    _, uid, _ = ids
    keep, *others = [str(uuid.uuid4()) for _ in range(4)]
    for sid in [keep, *others]:
        registry.open_session(session_id=sid, user_id=uid, ttl_seconds=60)
    ended = registry.end_user_sessions(user_id=uid, except_session=keep)
    assert sorted(ended) == sorted(others)
    assert registry.is_session_alive(keep)
    assert not any(registry.is_session_alive(sid) for sid in others)
    assert registry.end_user_sessions(user_id=uid) == [keep]
    assert registry.end_user_sessions(user_id=uid) == []


def test_extend_never_resurrects_an_ended_session(ids):
    sid, uid, _ = ids
    assert registry.extend_session(session_id=sid, ttl_seconds=60) is False
    registry.open_session(session_id=sid, user_id=uid, ttl_seconds=5)
    assert registry.extend_session(session_id=sid, ttl_seconds=120) is True
    assert registry.client().ttl(registry.session_key(sid)) > 100
    assert registry.client().get(registry.session_key(sid)) == uid
    registry.end_session(session_id=sid)
    assert registry.extend_session(session_id=sid, ttl_seconds=120) is False
    assert not registry.is_session_alive(sid)


def test_inactive_users_are_rejected_and_unknown_users_are_active(ids):
    sid, uid, jti = ids
    registry.open_session(session_id=sid, user_id=uid, ttl_seconds=60)
    assert registry.is_user_active(uid)
    registry.set_user_active(user_id=uid, active=False)
    assert not registry.is_user_active(uid)
    assert registry.check_token_state(session_id=sid, user_id=uid, jti=jti) == registry.USER_INACTIVE
    registry.set_user_active(user_id=uid, active=True)
    assert registry.check_token_state(session_id=sid, user_id=uid, jti=jti) is None


def test_a_revoked_token_is_rejected_until_it_expires(ids):
    sid, uid, jti = ids
    registry.open_session(session_id=sid, user_id=uid, ttl_seconds=60)
    registry.revoke_token(jti=jti, expires_at=int(time.time()) + 30)
    assert registry.is_token_revoked(jti)
    assert registry.check_token_state(session_id=sid, user_id=uid, jti=jti) == registry.TOKEN_REVOKED
    assert 30 < registry.client().ttl(registry.revoked_key(jti)) <= 90
    assert registry.check_token_state(session_id=sid, user_id=uid, jti=str(uuid.uuid4())) is None
    # Already past exp + leeway: nothing to store.
    registry.revoke_token(jti="old", expires_at=int(time.time()) - 3600)
    assert not registry.is_token_revoked("old")


def test_check_token_state_is_one_round_trip(ids, monkeypatch):
    sid, uid, jti = ids
    calls = []
    real = registry.client()
    original_execute = type(real.pipeline()).execute

    def counting_execute(pipe, *args, **kwargs):
        calls.append(len(pipe.command_stack))
        return original_execute(pipe, *args, **kwargs)

    monkeypatch.setattr(type(real.pipeline()), "execute", counting_execute)
    monkeypatch.setattr(type(real), "execute_command", lambda *a, **k: pytest.fail("not pipelined"))
    registry.check_token_state(session_id=sid, user_id=uid, jti=jti)
    assert calls == [3]


def test_keys_use_the_auth_prefix(ids):
    sid, uid, jti = ids
    keys = [registry.session_key(sid), registry.user_sessions_key(uid)]
    keys += [registry.user_inactive_key(uid), registry.revoked_key(jti)]
    assert all(key.startswith("auth:") for key in keys)
