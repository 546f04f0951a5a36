"""JWTs per the platform contract: RS256, `kid` header, claims iss/aud/sub/exp/iat/nbf/jti/typ/sid
(+ email/roles/perms/staff on access tokens). Signed with PyJWT; see docs/accounts.md for why not simplejwt.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from django.conf import settings

from accounts.keys import ALGORITHM, keyring

ACCESS = "access"
REFRESH = "refresh"
REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp", "iat", "nbf", "jti", "typ", "sid"]


class TokenError(Exception):
    """The token cannot be used; the message says why (safe to show)."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: datetime


def _sign(claims: dict[str, Any]) -> str:
    key = keyring().active()
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": "JWT"})


def _base_claims(*, user_id: str, session_id: str, typ: str, jti: str, lifetime: int, not_after: int | None) -> dict[str, Any]:
    now = int(time.time())
    expires = now + lifetime if not_after is None else min(now + lifetime, not_after)
    return {
        "iss": settings.AUTH_ISSUER,
        "aud": settings.AUTH_AUDIENCE,
        "sub": user_id,
        "iat": now,
        "nbf": now,
        "exp": expires,
        "jti": jti,
        "typ": typ,
        "sid": session_id,
    }


def issue_access_token(
    *, user_id: str, session_id: str, email: str, roles: Iterable[str], perms: Iterable[str], staff: bool,
    not_after: int | None = None,
) -> IssuedToken:
    jti = str(uuid.uuid4())
    claims = _base_claims(
        user_id=user_id, session_id=session_id, typ=ACCESS, jti=jti,
        lifetime=settings.ACCOUNTS_ACCESS_TOKEN_TTL, not_after=not_after,
    )
    claims.update(email=email, roles=sorted(roles), perms=sorted(perms), staff=bool(staff))
    return IssuedToken(_sign(claims), jti, datetime.fromtimestamp(claims["exp"], UTC))


def issue_refresh_token(*, user_id: str, session_id: str, jti: str, not_after: int) -> IssuedToken:
    # Refresh tokens are read only by accounts: no roles/perms in them; they are recomputed on refresh.
    claims = _base_claims(
        user_id=user_id, session_id=session_id, typ=REFRESH, jti=jti,
        lifetime=settings.ACCOUNTS_REFRESH_TOKEN_TTL, not_after=not_after,
    )
    return IssuedToken(_sign(claims), jti, datetime.fromtimestamp(claims["exp"], UTC))


def _unverified_header(token: str) -> dict[str, Any]:
    """Only the header segment, to pick the key (jwt.get_unverified_header decodes all three: 2x slower)."""
    try:
        segment = token.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error):
        raise TokenError("Malformed token.")
    if not isinstance(header, dict) or token.count(".") != 2:
        raise TokenError("Malformed token.")
    return header


def decode(token: str, *, typ: str) -> dict[str, Any]:
    """Verify signature (RS256 only, key chosen by `kid`), iss, aud, exp, nbf and typ. Raises TokenError."""
    header = _unverified_header(token)
    if header.get("alg") != ALGORITHM:
        raise TokenError("Unexpected signing algorithm.")
    key = keyring().get(str(header.get("kid", "")))
    if key is None:
        raise TokenError("Unknown signing key.")
    try:
        claims = jwt.decode(
            token,
            key.public_key,
            algorithms=[ALGORITHM],
            audience=settings.AUTH_AUDIENCE,
            issuer=settings.AUTH_ISSUER,
            leeway=settings.ACCOUNTS_TOKEN_LEEWAY,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("Token expired.")
    except jwt.ImmatureSignatureError:
        raise TokenError("Token not yet valid.")
    except jwt.InvalidTokenError:
        raise TokenError("Invalid token.")
    if claims.get("typ") != typ:
        raise TokenError(f"Not an {typ} token." if typ == ACCESS else f"Not a {typ} token.")
    return claims
