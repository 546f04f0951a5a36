"""Payment providers: `payOrder` charges through the one named by ORDERS_PAYMENT_PROVIDER.

A provider gets the order's id, amount and currency and either returns a reference or raises
PaymentDeclined. The built-in TestPaymentProvider approves every charge (development, tests);
a real one (Stripe, Adyen...) implements the same method.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class Charge:
    order_id: str
    amount: Decimal
    currency: str


class PaymentDeclined(Exception):
    """The provider refused the charge; `reason` is safe to show the customer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PaymentProvider(Protocol):
    name: str

    def charge(self, charge: Charge) -> str:
        """Charge the customer; returns the provider's reference, or raises PaymentDeclined."""
        ...


class TestPaymentProvider:
    """Approves every charge with a made-up reference."""

    name = "test"

    def charge(self, charge: Charge) -> str:
        return f"test-{uuid.uuid4().hex[:16]}"


@cache
def _provider_class(path: str) -> type[PaymentProvider]:
    return import_string(path)


def provider() -> PaymentProvider:
    return _provider_class(settings.ORDERS_PAYMENT_PROVIDER)()
