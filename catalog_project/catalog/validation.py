"""Input rules for catalog writes, shared by the commands and kept out of the models.

Field names are the domain's (snake_case); the GraphQL edge shows them camelCased."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from common.errors import FieldErrors, ValidationFailed
from common.text import display_text_problem

SKU_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
MAX_PRICE = Decimal("9999999999.99")
MAX_STOCK = 2_147_483_647
MAX_DESCRIPTION = 5000


def parse_uuid(value: Any, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        raise ValidationFailed(f"`{field}` is not a valid id.", fields={field: ["Must be a UUID."]}) from None


def check_text(errors: FieldErrors, field: str, value: str | None, *, max_length: int, required: bool = True) -> None:
    if value is None:
        return
    problem = display_text_problem(value, multiline=not required)
    if required and not value.strip():
        errors.add(field, "Must not be blank.")
    elif len(value) > max_length:
        errors.add(field, f"Must be at most {max_length} characters.")
    elif problem:
        errors.add(field, problem)


def check_sku(errors: FieldErrors, sku: str | None) -> None:
    if sku is not None and not SKU_PATTERN.match(sku):
        errors.add("sku", "1-64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit.")


def check_slug(errors: FieldErrors, slug: str | None) -> None:
    if slug is not None and (len(slug) > 140 or not SLUG_PATTERN.match(slug)):
        errors.add("slug", "Lowercase letters, digits and single hyphens, at most 140 characters.")


def check_price(errors: FieldErrors, price: Any) -> None:
    """The GraphQL Decimal scalar already refuses NaN, `1_000`, non-ASCII digits and padding
    (common.graphql.inputs); this checks range and scale of any value a command gets."""
    if price is None:
        return
    if isinstance(price, str) and (price != price.strip() or not price.isascii() or "_" in price):
        errors.add("price", "Must be a plain decimal number such as 12.50.")
        return
    try:
        value = Decimal(str(price))
    except InvalidOperation:
        errors.add("price", "Must be a decimal number.")
        return
    if not value.is_finite() or value < 0 or value > MAX_PRICE:
        errors.add("price", f"Must be between 0 and {MAX_PRICE}.")
    elif value.as_tuple().exponent < -2:  # type: ignore[operator]
        errors.add("price", "At most 2 decimal places.")


def check_currency(errors: FieldErrors, currency: str | None) -> None:
    if currency is not None and not CURRENCY_PATTERN.match(currency):
        errors.add("currency", "Must be an ISO 4217 code such as USD.")


def check_stock(errors: FieldErrors, field: str, quantity: int | None) -> None:
    if quantity is not None and not 0 <= quantity <= MAX_STOCK:
        errors.add(field, f"Must be between 0 and {MAX_STOCK}.")
