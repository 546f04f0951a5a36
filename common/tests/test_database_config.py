"""database_config gives every service the quiet-health-check backend (common.db.postgresql) for PostgreSQL
URLs, and leaves any other database as dj-database-url parsed it."""

from __future__ import annotations

import pytest
from common.db.postgresql.base import DatabaseWrapper
from common.settings import database_config
from django.db import connections


def test_postgresql_urls_get_the_common_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://someone@db.example:5432/shop")
    config = database_config("unused")
    assert config["ENGINE"] == "common.db.postgresql"
    assert (config["NAME"], config["CONN_MAX_AGE"], config["CONN_HEALTH_CHECKS"]) == ("shop", 60, True)


def test_other_databases_keep_their_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:////tmp/elsewhere.sqlite3")
    assert database_config("unused")["ENGINE"] == "django.db.backends.sqlite3"


@pytest.mark.django_db
def test_the_running_connection_uses_it() -> None:
    assert isinstance(connections["default"], DatabaseWrapper)
    assert connections["default"].vendor == "postgresql"
