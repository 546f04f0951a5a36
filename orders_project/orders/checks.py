"""System checks of the orders settings (run by `manage.py check`, `migrate`, `runserver`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

# What the rest of placeOrder needs after the cart wait (placement, the gateway's own hop).
CART_WAIT_HEADROOM_MS = 1000


@register()
def cart_wait_below_gateway_timeout(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """placeOrder(cartVersion) must answer its retryable CONFLICT itself before the gateway gives up on it
    (a 504 says nothing about whether the order was placed)."""
    timeout_ms = int(settings.GATEWAY_SUBGRAPH_TIMEOUT_MS)
    wait_ms = float(settings.ORDERS_CART_WAIT_SECONDS) * 1000
    if timeout_ms > 0 and wait_ms + CART_WAIT_HEADROOM_MS > timeout_ms:
        return [Error(
            f"ORDERS_CART_WAIT_SECONDS ({wait_ms / 1000:g} s) must stay at least {CART_WAIT_HEADROOM_MS} ms below "
            f"the gateway's subgraph timeout GATEWAY_SUBGRAPH_TIMEOUT_MS ({timeout_ms} ms).",
            hint="Lower ORDERS_CART_WAIT_SECONDS (default 3) or raise GATEWAY_SUBGRAPH_TIMEOUT_MS (default 10000).",
            id="orders.E001",
        )]
    return []
