"""Test support for services that verify accounts tokens (used through common.auth.pytest_plugin).

- `KeyPair`: an RSA signing key with its `kid` and public JWK.
- `AccountsStub`: a real HTTP server (`common.testing.StubServer`) on a free loopback port standing in for the accounts
  service's public surface: `GET /.well-known/jwks.json` and the GraphQL `login` mutation.
- `TokenMinter`: signs tokens exactly as the JWT contract says and opens their session in the
  shared registry, so they pass every check unless a test breaks one on purpose.
- `user_event(...)`: an accounts user event applied to the local user replica.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from common.auth import registry
from common.auth.roles import ADMIN, CATALOG_MANAGER, CUSTOMER, ORDER_MANAGER
from common.testing.stub_server import Reply, Request, StubServer

ISSUER = "catalog-platform-accounts"
AUDIENCE = "catalog-platform"

CATALOG_WRITE_PERMS = (
    "catalog.add_product",
    "catalog.change_product",
    "catalog.delete_product",
    "catalog.add_category",
    "catalog.change_category",
    "catalog.delete_category",
)
# Mirrors the roles the accounts service creates in its data migration.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    CUSTOMER: (),
    CATALOG_MANAGER: CATALOG_WRITE_PERMS,
    ORDER_MANAGER: ("orders.view_order", "orders.change_order_status"),
    ADMIN: (*CATALOG_WRITE_PERMS, "orders.view_order", "orders.change_order_status"),
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class KeyPair:
    def __init__(self, kid: str | None = None) -> None:
        self.kid = kid or f"test-{uuid.uuid4().hex[:12]}"
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = self.private_key.public_key()

    @property
    def public_pem(self) -> bytes:
        return self.public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def jwk(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.public_key))
        jwk.update(kid=self.kid, alg="RS256", use="sig")
        return jwk


@dataclass
class Minted:
    token: str
    claims: dict[str, Any]
    headers: dict[str, Any]

    @property
    def user_id(self) -> str:
        return self.claims["sub"]

    @property
    def session_id(self) -> str:
        return self.claims["sid"]

    @property
    def jti(self) -> str:
        return self.claims["jti"]

    @property
    def authorization(self) -> dict[str, str]:
        """Keyword arguments for Django's test client."""
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}


class TokenMinter:
    def __init__(self, key: KeyPair, *, issuer: str = ISSUER, audience: str = AUDIENCE) -> None:
        self.key = key
        self.issuer = issuer
        self.audience = audience

    def claims(
        self,
        *,
        roles: Iterable[str] = (),
        perms: Iterable[str] | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        typ: str = "access",
        ttl: int = 300,
        staff: bool | None = None,
        email: str | None = None,
        now: float | None = None,
        **overrides: Any,
    ) -> dict[str, Any]:
        roles = list(roles)
        if perms is None:
            perms = sorted({perm for role in roles for perm in ROLE_PERMISSIONS.get(role, ())})
        now = int(now if now is not None else time.time())
        user_id = user_id or str(uuid.uuid4())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user_id,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
            "typ": typ,
            "sid": session_id or uuid.uuid4().hex,
            "email": email or f"{user_id[:8]}@example.com",
            "roles": roles,
            "perms": list(perms),
            "staff": staff if staff is not None else any(r in roles for r in (CATALOG_MANAGER, ORDER_MANAGER, ADMIN)),
        }
        claims.update(overrides)
        return claims

    def sign(self, claims: dict[str, Any], *, key: KeyPair | None = None, headers: dict[str, Any] | None = None) -> str:
        key = key or self.key
        return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid, **(headers or {})})

    def mint(self, *, open_session: bool = True, key: KeyPair | None = None, **claim_args: Any) -> Minted:
        """A valid token (claims adjustable); its session is opened in the registry."""
        claims = self.claims(**claim_args)
        if open_session:
            registry.open_session(session_id=claims["sid"], user_id=claims["sub"], ttl_seconds=3600)
        key = key or self.key
        return Minted(token=self.sign(claims, key=key), claims=claims, headers={"kid": key.kid, "alg": "RS256"})


def user_event(event_type: str, user_id: str, *, at: dt.datetime | None = None, **snapshot: Any) -> bool:
    """Apply an `accounts.user.<event_type>` event to this service's user replica as its consumer would
    (snapshot payload: the user's fields after the change). Returns whether the replica changed."""
    from common.auth.replica.sync import apply_user_event

    snapshot.setdefault("id", user_id)
    return apply_user_event(
        event_type=f"accounts.user.{event_type}",
        user_id=user_id,
        occurred_at=(at or dt.datetime.now(dt.UTC)).isoformat(),
        payload={"user": snapshot},
    )


def forge(header: dict[str, Any], claims: dict[str, Any], signature: bytes | None = b"") -> str:
    """A token assembled by hand, as an attacker would (any header, any signature bytes)."""
    head = b64url(json.dumps(header, separators=(",", ":")).encode())
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{head}.{body}.{b64url(signature or b'')}"


# --- the accounts stand-in ----------------------------------------------------------------------


@dataclass
class AccountsStub:
    """Serves JWKS and `login` on 127.0.0.1:<free port> (a `StubServer`) until `close()`."""

    minter: TokenMinter
    jwks_keys: list[dict[str, Any]] = field(default_factory=list)
    jwks_requests: int = 0
    jwks_down: bool = False  # answer 503, as an overloaded or restarting accounts service would
    # email -> (password, claim arguments for the minted token)
    accounts: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    login_requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.jwks_keys = self.jwks_keys or [self.minter.key.jwk()]
        self.server = StubServer(self._answer, name="accounts-stub")

    def _answer(self, request: Request) -> Reply:
        if request.method == "GET":
            if request.path != "/.well-known/jwks.json":
                return Reply.json({}, 404)
            self.jwks_requests += 1
            return Reply.json({}, 503) if self.jwks_down else Reply.json({"keys": list(self.jwks_keys)})
        body = request.json()
        self.login_requests.append({"body": body, "forwarded_for": request.headers.get("x-forwarded-for")})
        return Reply.json(self.login_response(body.get("variables") or {}))

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}/.well-known/jwks.json"

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url}/graphql/"

    def add_account(self, email: str, password: str, **claim_args: Any) -> None:
        self.accounts[email.lower()] = (password, {"email": email, **claim_args})

    def login_response(self, variables: dict[str, Any]) -> dict[str, Any]:
        account = self.accounts.get(str(variables.get("email", "")).lower())
        if account is None or account[0] != variables.get("password"):
            error = {"message": "Wrong email or password.", "extensions": {"code": "UNAUTHENTICATED"}}
            return {"data": {"login": None}, "errors": [error]}
        minted = self.minter.mint(**account[1])
        return {"data": {"login": {"accessToken": minted.token}}}

    def close(self) -> None:
        self.server.close()


# --- the JWT attack suite ---------------------------------------------------------------------------
# Each attack builds a token (and registry state) that a service must reject with UNAUTHENTICATED.


def _alg_none(tokens: TokenMinter) -> str:
    minted = tokens.mint(roles=[ADMIN])
    return forge({"alg": "none", "typ": "JWT", "kid": tokens.key.kid}, minted.claims)


def _alg_none_capitalised(tokens: TokenMinter) -> str:
    minted = tokens.mint(roles=[ADMIN])
    return forge({"alg": "None", "kid": tokens.key.kid}, minted.claims)


def _hs256_with_public_key(tokens: TokenMinter) -> str:
    # Algorithm confusion: an HMAC "signed" with the (public) RSA key as the shared secret.
    import hashlib
    import hmac

    minted = tokens.mint(roles=[ADMIN])
    header = {"alg": "HS256", "typ": "JWT", "kid": tokens.key.kid}
    unsigned = forge(header, minted.claims).rsplit(".", 1)[0]
    signature = hmac.new(tokens.key.public_pem, unsigned.encode(), hashlib.sha256).digest()
    return f"{unsigned}.{b64url(signature)}"


def _tampered_payload(tokens: TokenMinter) -> str:
    minted = tokens.mint(roles=[CUSTOMER])
    head, _, signature = minted.token.split(".")
    escalated = {**minted.claims, "roles": [ADMIN], "perms": list(ROLE_PERMISSIONS[ADMIN])}
    body = b64url(json.dumps(escalated, separators=(",", ":")).encode())
    return f"{head}.{body}.{signature}"


def _unknown_kid(tokens: TokenMinter) -> str:
    return tokens.mint(key=KeyPair(kid="rogue-key")).token


def _known_kid_foreign_signer(tokens: TokenMinter) -> str:
    # The header names our key but an attacker's key made the signature.
    claims = tokens.claims(roles=[ADMIN])
    registry.open_session(session_id=claims["sid"], user_id=claims["sub"], ttl_seconds=600)
    rogue = KeyPair(kid=tokens.key.kid)
    return tokens.sign(claims, key=rogue)


def _expired(tokens: TokenMinter) -> str:
    return tokens.mint(now=time.time() - 3600, ttl=300).token  # exp an hour minus 5 min ago, far beyond leeway


def _not_yet_valid(tokens: TokenMinter) -> str:
    now = int(time.time())
    return tokens.mint(nbf=now + 120, iat=now).token


def _issued_in_future(tokens: TokenMinter) -> str:
    return tokens.mint(now=time.time() + 3600).token


def _wrong_issuer(tokens: TokenMinter) -> str:
    return tokens.mint(iss="someone-else").token


def _wrong_audience(tokens: TokenMinter) -> str:
    return tokens.mint(aud="another-platform").token


def _refresh_as_access(tokens: TokenMinter) -> str:
    return tokens.mint(typ="refresh").token


def _missing_session_claim(tokens: TokenMinter) -> str:
    claims = tokens.claims(roles=[ADMIN])
    del claims["sid"]
    return tokens.sign(claims)


def _sub_not_uuid(tokens: TokenMinter) -> str:
    return tokens.mint(open_session=False, sub="admin").token


def _logged_out_session(tokens: TokenMinter) -> str:
    minted = tokens.mint(roles=[ADMIN])
    registry.end_session(session_id=minted.session_id)
    return minted.token


def _unknown_session(tokens: TokenMinter) -> str:
    return tokens.mint(roles=[ADMIN], open_session=False).token


def _deactivated_user(tokens: TokenMinter) -> str:
    minted = tokens.mint(roles=[ADMIN])
    registry.set_user_active(user_id=minted.user_id, active=False)
    return minted.token


def _revoked_jti(tokens: TokenMinter) -> str:
    minted = tokens.mint(roles=[ADMIN])
    registry.revoke_token(jti=minted.jti, expires_at=minted.claims["exp"])
    return minted.token


def _session_of_another_user(tokens: TokenMinter) -> str:
    victim = tokens.mint(roles=[ADMIN])
    return tokens.mint(roles=[ADMIN], session_id=victim.session_id, open_session=False).token


def _garbage(tokens: TokenMinter) -> str:
    return "not-a-jwt"


ATTACKS = {
    "alg none": _alg_none,
    "alg None (capitalised)": _alg_none_capitalised,
    "HS256 signed with the public key": _hs256_with_public_key,
    "tampered payload": _tampered_payload,
    "unknown kid": _unknown_kid,
    "known kid, foreign signature": _known_kid_foreign_signer,
    "expired": _expired,
    "not yet valid": _not_yet_valid,
    "issued in the future": _issued_in_future,
    "wrong iss": _wrong_issuer,
    "wrong aud": _wrong_audience,
    "refresh token as access token": _refresh_as_access,
    "missing sid claim": _missing_session_claim,
    "sub not a UUID": _sub_not_uuid,
    "logged-out session": _logged_out_session,
    "unknown session": _unknown_session,
    "session of another user": _session_of_another_user,
    "deactivated user": _deactivated_user,
    "revoked jti": _revoked_jti,
    "garbage": _garbage,
}
