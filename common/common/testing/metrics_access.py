"""The `/metrics/` access rules every service must meet (open in development, a token or nothing in
production, never a debug page). A service's test module imports these tests to run them against itself."""

from __future__ import annotations

# ruff: noqa: S105, S106 - a test token, not a secret
import pytest

pytestmark = pytest.mark.django_db


def test_metrics_exist_in_development(client, settings):
    settings.DEBUG = True
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics/")
    assert response.status_code == 200
    assert b"cache_redis_up" in response.content


def test_metrics_need_the_token_when_one_is_set(client, settings):
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    for headers in ({}, {"HTTP_X_METRICS_TOKEN": "wrong"}, {"HTTP_X_METRICS_TOKEN": ""}):
        response = client.get("/metrics/", **headers)
        assert response.status_code == 404 and response.content == b"Not found.\n"
    assert client.get("/metrics/", HTTP_X_METRICS_TOKEN="s3cret-scrape-token").status_code == 200


def test_metrics_are_hidden_in_production_without_a_token(client, settings):
    settings.DEBUG = False
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics/")
    assert response.status_code == 404
    assert b"Django" not in response.content and b"urlpatterns" not in response.content
