"""The accounts service's public signing keys (JWKS), fetched over HTTP and cached in-process.

Keys are refetched when the cached set is older than AUTH_JWKS_MAX_AGE_SECONDS, and when a
token names a `kid` we do not know (the accounts service rotated its key) — but unknown kids
trigger at most one fetch per AUTH_JWKS_MIN_REFRESH_SECONDS, so tokens with made-up kids
cannot make every request fetch. When the accounts service is unreachable the last good key
set stays in use (and failed fetches are retried at most once per that interval too).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from typing import Any

from jwt import PyJWK
from jwt.exceptions import PyJWKError, PyJWTError

from common.auth.conf import auth_setting

logger = logging.getLogger("common.auth")

ALGORITHM = "RS256"
MAX_JWKS_BYTES = 64 * 1024
MAX_KEYS = 20


class JWKSClient:
    def __init__(self, url: str, *, max_age: float, min_refresh_interval: float, timeout: float) -> None:
        self.url = url
        self.max_age = max_age
        self.min_refresh_interval = min_refresh_interval
        self.timeout = timeout
        self.fetch_count = 0  # observable in tests and logs
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None  # last successful fetch (monotonic)
        self._attempted_at: float | None = None  # last attempt, successful or not
        self._forced_at: float | None = None  # last attempt caused by an unknown kid
        self._lock = threading.Lock()

    def get_key(self, kid: str) -> Any | None:
        """The public key for `kid`, or None when the accounts service does not publish it."""
        if self._is_stale() and self._may_retry():
            self._refresh(wanted=None)
        key = self._keys.get(kid)
        if key is None and self._may_force():
            self._refresh(wanted=kid)
            key = self._keys.get(kid)
        return key

    def _is_stale(self) -> bool:
        return self._fetched_at is None or time.monotonic() - self._fetched_at > self.max_age

    def _may_retry(self) -> bool:
        # After a failed attempt, wait before trying again (accounts may be down).
        return self._attempted_at is None or time.monotonic() - self._attempted_at >= self.min_refresh_interval

    def _may_force(self) -> bool:
        # Unknown kids may trigger one fetch per interval, counted apart from routine fetches, so a
        # key rotated in right after start-up is still picked up at once.
        return self._forced_at is None or time.monotonic() - self._forced_at >= self.min_refresh_interval

    def _refresh(self, *, wanted: str | None) -> None:
        with self._lock:
            # Re-checked under the lock: another thread may have fetched while this one waited.
            if wanted is None and not (self._is_stale() and self._may_retry()):
                return
            if wanted is not None and (wanted in self._keys or not self._may_force()):
                return
            reason = "expired key set" if wanted is None else f"unknown kid {wanted[:40]!r}"
            self._attempted_at = time.monotonic()
            if wanted is not None:
                self._forced_at = self._attempted_at
            self.fetch_count += 1
            try:
                keys = parse_jwks(self._download())
            except Exception as exc:  # network or format problem: keep serving the last good keys
                logger.warning("JWKS refresh from %s failed (%s): %s", self.url, reason, exc)
                return
            self._keys = keys
            self._fetched_at = time.monotonic()
            logger.info("JWKS refreshed from %s (%s): kids %s", self.url, reason, sorted(keys))

    def _download(self) -> dict[str, Any]:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("AUTH_JWKS_URL must be an http(s) URL")
        request = urllib.request.Request(self.url, headers={"Accept": "application/json"})  # noqa: S310 - scheme checked
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            body = response.read(MAX_JWKS_BYTES + 1)
        if len(body) > MAX_JWKS_BYTES:
            raise ValueError("JWKS document too large")
        return json.loads(body)


def parse_jwks(document: dict[str, Any]) -> dict[str, Any]:
    """{kid: public key} for the RS256 signing keys of a JWKS document; anything else is skipped."""
    keys: dict[str, Any] = {}
    for jwk in list(document.get("keys") or [])[:MAX_KEYS]:
        if not isinstance(jwk, dict):
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        if jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig" or jwk.get("alg", ALGORITHM) != ALGORITHM:
            continue
        if "d" in jwk:  # a private key published by mistake is never trusted
            continue
        try:
            keys[kid] = PyJWK(jwk, algorithm=ALGORITHM).key
        except (PyJWKError, PyJWTError, ValueError, TypeError) as exc:
            logger.warning("Skipping unusable JWKS key %r: %s", kid, exc)
    return keys


_client: JWKSClient | None = None
_client_lock = threading.Lock()


def get_jwks_client() -> JWKSClient:
    """The process-wide client for AUTH_JWKS_URL (rebuilt when the setting changes)."""
    global _client
    url = auth_setting("AUTH_JWKS_URL")
    client = _client
    if client is None or client.url != url:
        with _client_lock:
            if _client is None or _client.url != url:
                _client = JWKSClient(
                    url,
                    max_age=float(auth_setting("AUTH_JWKS_MAX_AGE_SECONDS")),
                    min_refresh_interval=float(auth_setting("AUTH_JWKS_MIN_REFRESH_SECONDS")),
                    timeout=float(auth_setting("AUTH_HTTP_TIMEOUT_SECONDS")),
                )
            client = _client
    return client


def reset_jwks_client() -> None:
    """Forget the cached keys (tests, or after changing AUTH_JWKS_* settings)."""
    global _client
    with _client_lock:
        _client = None
