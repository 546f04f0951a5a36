"""What a cart and a read-model product are, and how they are stored in Redis hashes."""

from __future__ import annotations

import json
import re
import secrets
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

ANONYMOUS_PREFIX = "anon-"
USER_PREFIX = "user-"
# 24 random bytes = 192 bits (the issue asks for >= 128), URL-safe base64.
ANONYMOUS_ID = re.compile(r"^anon-[A-Za-z0-9_-]{32}$")


def new_anonymous_cart_id() -> str:
    return ANONYMOUS_PREFIX + secrets.token_urlsafe(24)


def user_cart_id(user_id: str) -> str:
    return USER_PREFIX + str(user_id)


def is_anonymous_cart_id(cart_id: str) -> bool:
    return bool(ANONYMOUS_ID.match(cart_id))


def is_user_cart_id(cart_id: str) -> bool:
    if not cart_id.startswith(USER_PREFIX):
        return False
    try:
        uuid.UUID(cart_id[len(USER_PREFIX) :])
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Line:
    product_id: str
    quantity: int


@dataclass(frozen=True)
class Cart:
    id: str
    user_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    items: tuple[Line, ...] = field(default_factory=tuple)

    @classmethod
    def empty(cls, cart_id: str, user_id: str | None) -> Cart:
        now = timezone.now()
        return cls(id=cart_id, user_id=user_id, version=0, created_at=now, updated_at=now)

    @classmethod
    def from_hash(cls, cart_id: str, data: dict[str, str]) -> Cart | None:
        if not data:
            return None
        items = json.loads(data.get("items") or "[]")
        return cls(
            id=cart_id,
            user_id=data.get("user_id") or None,
            version=int(data["version"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
            items=tuple(Line(str(item["product_id"]), int(item["quantity"])) for item in items),
        )

    def to_hash(self) -> dict[str, str]:
        return {
            "user_id": self.user_id or "",
            "version": str(self.version),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "items": json.dumps([{"product_id": line.product_id, "quantity": line.quantity} for line in self.items]),
        }

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None

    def quantity_of(self, product_id: str) -> int:
        return next((line.quantity for line in self.items if line.product_id == product_id), 0)

    def with_quantity(self, product_id: str, quantity: int) -> tuple[Line, ...]:
        """The lines with `product_id` set to `quantity` (0 removes it; a new line goes last)."""
        lines = [line for line in self.items if line.product_id != product_id or quantity > 0]
        if any(line.product_id == product_id for line in lines):
            return tuple(Line(product_id, quantity) if line.product_id == product_id else line for line in lines)
        return (*lines, Line(product_id, quantity)) if quantity > 0 else tuple(lines)

    def changed(self, items: tuple[Line, ...]) -> Cart:
        """The next version of this cart (one change = version + 1)."""
        return replace(self, items=items, version=self.version + 1, updated_at=timezone.now())

    def state(self) -> dict[str, Any]:
        """The cart's whole state, as every cart event carries it (docs/contracts.md)."""
        return {
            "cart_id": self.id,
            "user_id": self.user_id,
            "version": self.version,
            "items": [{"product_id": line.product_id, "quantity": line.quantity} for line in self.items],
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class Product:
    """The cart's read model of a catalog product (what the last catalog event said)."""

    id: str
    sku: str
    name: str
    price: Decimal
    currency: str
    stock_quantity: int
    is_active: bool
    deleted: bool
    updated_at: str  # the catalog's updated_at (ISO), to ignore events older than what we hold

    @property
    def available(self) -> bool:
        return self.is_active and not self.deleted

    @classmethod
    def from_hash(cls, product_id: str, data: dict[str, str]) -> Product | None:
        if not data:
            return None
        return cls(
            id=product_id,
            sku=data.get("sku", ""),
            name=data.get("name", ""),
            price=Decimal(data.get("price") or "0"),
            currency=data.get("currency", ""),
            stock_quantity=int(data.get("stock_quantity") or 0),
            is_active=data.get("is_active") == "1",
            deleted=data.get("deleted") == "1",
            updated_at=data.get("updated_at", ""),
        )

    @classmethod
    def from_event_payload(cls, payload: dict[str, Any], *, deleted: bool) -> Product:
        try:
            price = Decimal(str(payload.get("price", "0")))
        except InvalidOperation:
            price = Decimal("0")
        return cls(
            id=str(payload["id"]),
            sku=str(payload.get("sku", "")),
            name=str(payload.get("name", "")),
            price=price,
            currency=str(payload.get("currency", "")),
            stock_quantity=int(payload.get("stock_quantity") or 0),
            is_active=bool(payload.get("is_active", False)),
            deleted=deleted,
            updated_at=str(payload.get("updated_at", "")),
        )

    def to_hash(self) -> dict[str, str]:
        return {
            "sku": self.sku,
            "name": self.name,
            "price": str(self.price),
            "currency": self.currency,
            "stock_quantity": str(self.stock_quantity),
            "is_active": "1" if self.is_active else "0",
            "deleted": "1" if self.deleted else "0",
            "updated_at": self.updated_at,
        }
