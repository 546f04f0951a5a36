"""Input checks of the orders commands (field names are snake_case domain names)."""

from __future__ import annotations

from typing import Any

import pycountry
from common.errors import FieldErrors

# (field, max length, required)
ADDRESS_FIELDS = (
    ("name", 200, True),
    ("line1", 200, True),
    ("line2", 200, False),
    ("city", 100, True),
    ("postal_code", 20, True),
)
MAX_IDEMPOTENCY_KEY = 100


def clean_address(errors: FieldErrors, raw: dict[str, Any] | None) -> dict[str, str]:
    """The address with text trimmed; problems are added to `errors` as `shipping_address.<field>`."""
    raw = raw or {}
    address: dict[str, str] = {}
    for name, max_length, required in ADDRESS_FIELDS:
        value = raw.get(name)
        text = value.strip() if isinstance(value, str) else ""
        field = f"shipping_address.{name}"
        if required and not text:
            errors.add(field, "Required.")
        elif len(text) > max_length:
            errors.add(field, f"At most {max_length} characters.")
        elif any(ord(c) < 32 for c in text):
            errors.add(field, "Must not contain control characters.")
        address[name] = text
    country = raw.get("country")
    code = country.strip().upper() if isinstance(country, str) else ""
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        errors.add("shipping_address.country", "An ISO 3166-1 alpha-2 country code, like DE or US.")
    address["country"] = code
    return address


def check_idempotency_key(errors: FieldErrors, key: Any) -> None:
    if not isinstance(key, str) or not key.strip():
        errors.add("idempotency_key", "Required.")
    elif len(key) > MAX_IDEMPOTENCY_KEY:
        errors.add("idempotency_key", f"At most {MAX_IDEMPOTENCY_KEY} characters.")


def check_cart_version(errors: FieldErrors, version: Any) -> None:
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 0):
        errors.add("cart_version", "A version number the cart returned (0 or more).")
