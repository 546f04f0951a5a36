"""Helpers to read settings from the environment (12-factor style)."""

from __future__ import annotations

import os
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured


class MissingSetting(ImproperlyConfigured):
    """A required environment variable is not set. `manage.py` (common.manage) prints its message as
    one line instead of a traceback: the fix is in the environment, not in the code."""


def env_required(name: str, why: str) -> str:
    """The variable's value; MissingSetting (saying what it is for) when it is unset or empty."""
    value = os.environ.get(name, "")
    if not value:
        raise MissingSetting(f"{name} is not set: {why}")
    return value


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def database_config(default_name: str) -> dict[str, Any]:
    """The service's PostgreSQL database from DATABASE_URL.

    Each service owns its database; the default points at the local trust-auth
    server so `manage.py` works on a development machine without any setup.
    """
    # DATABASE_NAME_SUFFIX lets several checkouts share one PostgreSQL server without clashing.
    name = default_name + env_str("DATABASE_NAME_SUFFIX")
    default_url = f"postgres://postgres@127.0.0.1:5432/{name}"
    config = dj_database_url.parse(env_str("DATABASE_URL", default_url), conn_max_age=60, conn_health_checks=True)
    config["ATOMIC_REQUESTS"] = False
    # common.db.postgresql: Django's backend whose per-request health check asks PostgreSQL only when the
    # idle socket shows a sign of trouble, with timestamps decoded in C (docs/performance.md §2).
    if config.get("ENGINE") == "django.db.backends.postgresql":
        config["ENGINE"] = "common.db.postgresql"
    return config
