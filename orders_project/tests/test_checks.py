"""orders.E001: the cart wait of placeOrder stays below the gateway's subgraph timeout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import checks


def errors() -> list[str]:
    return [message.id for message in checks.run_checks() if message.id and message.id.startswith("orders.")]


def test_the_default_cart_wait_is_below_the_gateway_timeout():
    assert errors() == []


@pytest.mark.parametrize(("wait", "timeout"), [(10, 10_000), (9.5, 10_000), (3, 3_000)])
def test_a_cart_wait_as_long_as_the_gateway_timeout_is_an_error(settings, wait, timeout):
    settings.ORDERS_CART_WAIT_SECONDS, settings.GATEWAY_SUBGRAPH_TIMEOUT_MS = wait, timeout
    assert errors() == ["orders.E001"]


@pytest.mark.parametrize(("wait", "timeout"), [(3, 10_000), (9, 10_000), (30, 0)])
def test_a_shorter_wait_or_no_gateway_timeout_passes(settings, wait, timeout):
    settings.ORDERS_CART_WAIT_SECONDS, settings.GATEWAY_SUBGRAPH_TIMEOUT_MS = wait, timeout
    assert errors() == []


def test_manage_py_check_refuses_the_environment_that_would_time_out(tmp_path):
    """Both values from the environment, as a deployment sets them: `manage.py check` fails."""
    project = Path(__file__).resolve().parents[1]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "orders_project.settings.dev",
           "ORDERS_CART_WAIT_SECONDS": "10", "GATEWAY_SUBGRAPH_TIMEOUT_MS": "10000"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=project, env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "orders.E001" in result.stderr, result.stderr
