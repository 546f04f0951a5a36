"""RS256 signing keys: the active key signs, retired keys keep verifying until their tokens expired.

Two sources, picked from settings:
- `DirectoryKeyring` (default): `<dir>/keyring.json` plus one private PEM per key, managed by
  `manage.py rotate_signing_key`. Every process notices a rotation by the file's mtime.
  Development creates the first key on demand (ACCOUNTS_SIGNING_KEYS_AUTOCREATE).
- `StaticKeyring`: ACCOUNTS_SIGNING_KEY_PEM (or _FILE) from a secret store signs; the PEM files in
  ACCOUNTS_PREVIOUS_SIGNING_KEYS_FILES are still published. Rotation = redeploy.

`kid` is the RFC 7638 thumbprint of the public key, so it is stable and needs no registry.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from jwt.algorithms import RSAAlgorithm

ALGORITHM = "RS256"
KEYRING_FILE = "keyring.json"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(public_key: rsa.RSAPublicKey) -> str:
    jwk = json.loads(RSAAlgorithm.to_jwk(public_key))
    canonical = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode()).digest())


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey
    created_at: int
    retired_at: int | None = None

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def public_jwk(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.public_key))
        return {"kty": "RSA", "kid": self.kid, "use": "sig", "alg": ALGORITHM, "n": jwk["n"], "e": jwk["e"]}


def load_private_pem(pem: str | bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ImproperlyConfigured("Signing keys must be RSA private keys (RS256).")
    return key


def new_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=settings.ACCOUNTS_RSA_KEY_BITS)


def max_token_lifetime() -> int:
    """How long a retired key must stay published: the longest-lived token it may have signed."""
    return max(settings.ACCOUNTS_ACCESS_TOKEN_TTL, settings.ACCOUNTS_REFRESH_TOKEN_TTL) + settings.ACCOUNTS_TOKEN_LEEWAY


class Keyring(Protocol):
    def active(self) -> SigningKey: ...

    def get(self, kid: str) -> SigningKey | None: ...

    def published(self) -> list[SigningKey]: ...


class StaticKeyring:
    def __init__(self, active_pem: str, previous_files: list[str]) -> None:
        key = load_private_pem(active_pem)
        self._active = SigningKey(kid=thumbprint(key.public_key()), private_key=key, created_at=0)
        previous = [load_private_pem(Path(path).read_bytes()) for path in previous_files]
        self._keys = {self._active.kid: self._active}
        for old in previous:
            kid = thumbprint(old.public_key())
            self._keys.setdefault(kid, SigningKey(kid=kid, private_key=old, created_at=0, retired_at=0))

    def active(self) -> SigningKey:
        return self._active

    def get(self, kid: str) -> SigningKey | None:
        return self._keys.get(kid)

    def published(self) -> list[SigningKey]:
        return list(self._keys.values())


class DirectoryKeyring:
    """Keys on disk, shared by every worker process; reloaded when keyring.json changes."""

    def __init__(self, path: str | Path, *, autocreate: bool) -> None:
        self.path = Path(path)
        self.autocreate = autocreate
        self._mutex = threading.Lock()
        self._stamp: int | None = None
        self._keys: dict[str, SigningKey] = {}
        self._active_kid: str | None = None

    # -- reading --

    def active(self) -> SigningKey:
        self._refresh()
        if self._active_kid is None:
            if not self.autocreate:
                raise ImproperlyConfigured(
                    f"No signing key in {self.path}: run `manage.py rotate_signing_key` once, "
                    "or set ACCOUNTS_SIGNING_KEY_PEM."
                )
            self.rotate(only_if_empty=True)
            self._refresh()
        assert self._active_kid is not None
        return self._keys[self._active_kid]

    def get(self, kid: str) -> SigningKey | None:
        self._refresh()
        key = self._keys.get(kid)
        if key is None or self._expired(key):
            return None
        return key

    def published(self) -> list[SigningKey]:
        if self._active_kid is None:
            self.active()  # creates the first key in development
        self._refresh()
        return [key for key in self._keys.values() if not self._expired(key)]

    @staticmethod
    def _expired(key: SigningKey) -> bool:
        return key.retired_at is not None and key.retired_at + max_token_lifetime() < time.time()

    def _refresh(self) -> None:
        try:
            stamp = (self.path / KEYRING_FILE).stat().st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp:
            return
        with self._mutex:
            manifest = self._read_manifest()
            keys = {}
            for entry in manifest["keys"]:
                keys[entry["kid"]] = SigningKey(
                    kid=entry["kid"],
                    private_key=load_private_pem((self.path / f"{entry['kid']}.pem").read_bytes()),
                    created_at=entry["created_at"],
                    retired_at=entry.get("retired_at"),
                )
            self._keys, self._active_kid, self._stamp = keys, manifest.get("active"), stamp

    def _read_manifest(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / KEYRING_FILE).read_text())
        except FileNotFoundError:
            return {"active": None, "keys": []}

    # -- writing (rotate_signing_key, or the first key in development) --

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        with (self.path / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        temporary = self.path / f".{KEYRING_FILE}.{os.getpid()}.tmp"
        temporary.write_text(json.dumps(manifest, indent=2))
        os.replace(temporary, self.path / KEYRING_FILE)  # atomic: readers see the old or the new file

    def rotate(self, *, only_if_empty: bool = False) -> SigningKey | None:
        """Make a new active key; the previous one retires (still published until its tokens expired).

        Keys retired longer than the longest token lifetime are deleted.
        """
        with self._locked():
            manifest = self._read_manifest()
            if only_if_empty and manifest.get("active"):
                return None
            now = int(time.time())
            private_key = new_private_key()
            kid = thumbprint(private_key.public_key())
            pem_path = self.path / f"{kid}.pem"
            pem = private_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            descriptor = os.open(pem_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(pem)
            kept = []
            for entry in manifest["keys"]:
                if entry["kid"] == manifest.get("active"):
                    entry["retired_at"] = now
                if entry.get("retired_at") is not None and entry["retired_at"] + max_token_lifetime() < now:
                    (self.path / f"{entry['kid']}.pem").unlink(missing_ok=True)
                    continue
                kept.append(entry)
            kept.append({"kid": kid, "created_at": now, "retired_at": None})
            self._write_manifest({"active": kid, "keys": kept})
            return SigningKey(kid=kid, private_key=private_key, created_at=now)


_keyring: Keyring | None = None
_keyring_config: tuple[Any, ...] | None = None
_keyring_lock = threading.Lock()


def keyring() -> Keyring:
    """The keyring the settings describe (rebuilt when tests change those settings)."""
    global _keyring, _keyring_config
    config = (
        settings.ACCOUNTS_SIGNING_KEY_PEM,
        tuple(settings.ACCOUNTS_PREVIOUS_SIGNING_KEYS_FILES),
        settings.ACCOUNTS_SIGNING_KEYS_DIR,
        settings.ACCOUNTS_SIGNING_KEYS_AUTOCREATE,
    )
    if _keyring is None or config != _keyring_config:
        with _keyring_lock:
            if settings.ACCOUNTS_SIGNING_KEY_PEM:
                _keyring = StaticKeyring(settings.ACCOUNTS_SIGNING_KEY_PEM, settings.ACCOUNTS_PREVIOUS_SIGNING_KEYS_FILES)
            else:
                _keyring = DirectoryKeyring(
                    settings.ACCOUNTS_SIGNING_KEYS_DIR, autocreate=settings.ACCOUNTS_SIGNING_KEYS_AUTOCREATE
                )
            _keyring_config = config
    return _keyring


def jwks() -> dict[str, list[dict[str, Any]]]:
    return {"keys": [key.public_jwk() for key in keyring().published()]}
