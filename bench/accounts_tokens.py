"""Per-request costs of the accounts auth path, from one run.

    cd accounts_project && ../.venv/bin/python ../bench/accounts_tokens.py

Prints: RS256 sign and verify, the registry check (pipelined vs three round trips), and one
Argon2 hash with the production parameters (the floor of a login).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "accounts_project"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "accounts_project.settings.dev")
os.environ.setdefault("ACCOUNTS_SIGNING_KEYS_DIR", tempfile.mkdtemp(prefix="bench-keys-"))

import django

django.setup()

from accounts import tokens  # noqa: E402
from common.auth import registry  # noqa: E402
from django.contrib.auth.hashers import Argon2PasswordHasher  # noqa: E402


def per_op(label: str, operation: Callable[[], object], repeat: int) -> float:
    operation()  # warm up (key load, connection)
    started = time.perf_counter()
    for _ in range(repeat):
        operation()
    seconds = (time.perf_counter() - started) / repeat
    print(f"{label:<46} {seconds * 1e6:10.1f} µs/op   {1 / seconds:10.0f} op/s")
    return seconds


def main() -> None:
    sid, uid = str(uuid.uuid4()), str(uuid.uuid4())
    registry.open_session(session_id=sid, user_id=uid, ttl_seconds=300)
    perms = ["catalog.add_product", "catalog.change_product", "catalog.delete_product"]

    def sign() -> str:
        return tokens.issue_access_token(
            user_id=uid, session_id=sid, email="bench@example.com", roles=["catalog_manager"], perms=perms, staff=True
        ).token

    token = sign()
    per_op("sign access token (RS256-2048)", sign, 300)
    verify = per_op("verify access token (sig + claims)", lambda: tokens.decode(token, typ=tokens.ACCESS), 2000)
    piped = per_op(
        "registry check_token_state (1 round trip)",
        lambda: registry.check_token_state(session_id=sid, user_id=uid, jti="x"),
        2000,
    )

    def three_calls() -> None:
        registry.is_session_alive(sid)
        registry.is_user_active(uid)
        registry.is_token_revoked("x")

    separate = per_op("registry, three separate calls", three_calls, 2000)
    hasher = Argon2PasswordHasher()
    argon = per_op("Argon2 hash, production parameters", lambda: hasher.encode("Sturdy-pass-123", hasher.salt()), 5)
    print()
    print(f"pipelined registry check is {separate / piped:.1f}x faster than three calls")
    print(f"full token check (verify + registry) ~ {(verify + piped) * 1e6:.0f} µs")
    print(f"a login costs >= {argon * 1e3:.0f} ms of Argon2")
    registry.end_session(session_id=sid)


if __name__ == "__main__":
    main()
