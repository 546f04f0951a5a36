"""Key naming: every key a service writes starts with its prefix (CACHE_KEY_PREFIX, default the
service name), so services and test runs can share one Redis without clashing."""

from __future__ import annotations

import hashlib
import re

from django.conf import settings

_SAFE_PART = re.compile(r"^[A-Za-z0-9._=-]{1,80}$")


def key_prefix() -> str:
    return getattr(settings, "CACHE_KEY_PREFIX", "") or getattr(settings, "SERVICE_NAME", "app")


def digest(text: str, size: int = 16) -> str:
    return hashlib.blake2b(text.encode(), digest_size=size).hexdigest()


def key_part(text: str) -> str:
    """A key segment: readable when short and plain, hashed when it comes from long or odd input."""
    return text if _SAFE_PART.match(text) else "#" + digest(text)


def namespace_key(namespace: str) -> str:
    return f"{key_prefix()}:ns:{namespace}"


def value_key_prefix(kind: str, key: str) -> str:
    """A data-cache value's key is this prefix + the versions of its namespaces joined by dots."""
    return f"{key_prefix()}:dc:{kind}:{key_part(key)}:"


def result_key(scope: str, request_digest: str) -> str:
    return f"{key_prefix()}:rc:{scope}:{request_digest}"


def stats_key() -> str:
    return f"{key_prefix()}:stats:cache"


def changes_channel() -> str:
    return f"{key_prefix()}:changes"


def django_cache_key(key: str, key_prefix_setting: str, version: int) -> str:
    return f"{key_prefix_setting or key_prefix()}:dj:{version}:{key}"
