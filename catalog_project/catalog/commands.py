"""Write side of the catalog (CQRS commands).

Every command is keyword-only, runs in one transaction, validates and locks first,
then changes state. Callers get model instances back or a domain error of `common.errors`
(`ValidationFailed`, `NotFound`, `Conflict`, field names in snake_case) and nothing is written
on error.

Events: each save/delete records its model-state event through the bridge (catalog/events.py)
within the command's transaction; a command that decides something more records that domain
event itself (`adjust_stock` -> `catalog.stock.adjusted`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from common.errors import Conflict, FieldErrors, NotFound, ValidationFailed
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from catalog import events
from catalog.models import Category, Product
from catalog.validation import (
    MAX_DESCRIPTION,
    MAX_STOCK,
    check_currency,
    check_price,
    check_sku,
    check_slug,
    check_stock,
    check_text,
    parse_uuid,
)

# Fields an update may leave out but never set to null.
NON_NULL_PRODUCT_FIELDS = ("sku", "name", "price", "currency", "stock_quantity", "is_active")


def _money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01")) + 0  # + 0: "-0" is stored as 0.00, not -0.00


def _category_or_error(category_id: Any, field: str = "category_id") -> Category:
    category = Category.objects.filter(pk=parse_uuid(category_id, field)).first()
    if category is None:
        raise ValidationFailed("Unknown category.", fields={field: ["No category with this id."]})
    return category


def _locked_product(product_id: Any) -> Product:
    product = Product.objects.select_for_update().filter(pk=parse_uuid(product_id, "id")).first()
    if product is None:
        raise NotFound("Product not found.", id=str(product_id))
    return product


def _locked_category(category_id: Any) -> Category:
    category = Category.objects.select_for_update().filter(pk=parse_uuid(category_id, "id")).first()
    if category is None:
        raise NotFound("Category not found.", id=str(category_id))
    return category


def _sku_conflict(sku: str) -> Conflict:
    return Conflict(f"A product with SKU {sku!r} already exists.", fields={"sku": ["Already in use."]})


def _save_product(product: Product) -> None:
    # The unique index is the final word on SKUs: a concurrent insert can pass the pre-check.
    try:
        with transaction.atomic():
            product.save()
    except IntegrityError as exc:
        if "sku" in str(exc):
            raise _sku_conflict(product.sku) from exc
        raise


@transaction.atomic
def create_product(
    *,
    sku: str,
    name: str,
    price: Decimal,
    description: str = "",
    currency: str | None = None,
    stock_quantity: int = 0,
    category_id: Any = None,
    is_active: bool = True,
) -> Product:
    currency = currency or settings.CATALOG_DEFAULT_CURRENCY
    errors = FieldErrors()
    check_sku(errors, sku)
    check_text(errors, "name", name, max_length=200)
    check_text(errors, "description", description, max_length=MAX_DESCRIPTION, required=False)
    check_price(errors, price)
    check_currency(errors, currency)
    check_stock(errors, "stock_quantity", stock_quantity)
    errors.raise_if_any()
    category = _category_or_error(category_id) if category_id is not None else None
    if Product.objects.filter(sku=sku).exists():
        raise _sku_conflict(sku)
    product = Product(
        sku=sku,
        name=name.strip(),
        description=description,
        price=_money(price),
        currency=currency,
        stock_quantity=stock_quantity,
        category=category,
        is_active=is_active,
    )
    _save_product(product)
    return product


@transaction.atomic
def update_product(*, product_id: Any, changes: dict[str, Any]) -> Product:
    """Partial update: only keys present in `changes` are touched (None clears the category)."""
    errors = FieldErrors()
    check_sku(errors, changes.get("sku"))
    check_text(errors, "name", changes.get("name"), max_length=200)
    check_text(errors, "description", changes.get("description"), max_length=MAX_DESCRIPTION, required=False)
    check_price(errors, changes.get("price"))
    check_currency(errors, changes.get("currency"))
    check_stock(errors, "stock_quantity", changes.get("stock_quantity"))
    for field in NON_NULL_PRODUCT_FIELDS:
        if field in changes and changes[field] is None:
            errors.add(field, "Must not be null.")
    errors.raise_if_any()

    product = _locked_product(product_id)
    if "category_id" in changes:
        category_id = changes["category_id"]
        product.category = _category_or_error(category_id) if category_id is not None else None
    if "sku" in changes and changes["sku"] != product.sku:
        if Product.objects.filter(sku=changes["sku"]).exclude(pk=product.pk).exists():
            raise _sku_conflict(changes["sku"])
        product.sku = changes["sku"]
    if "name" in changes:
        product.name = changes["name"].strip()
    for field in ("description", "currency", "stock_quantity", "is_active"):
        if field in changes:
            setattr(product, field, changes[field])
    if "price" in changes:
        product.price = _money(changes["price"])
    _save_product(product)
    return product


@transaction.atomic
def delete_product(*, product_id: Any) -> str:
    product = _locked_product(product_id)
    deleted_id = str(product.pk)
    product.delete()
    return deleted_id


@transaction.atomic
def adjust_stock(*, product_id: Any, delta: int) -> Product:
    """Add (or remove, with a negative delta) units; stock can never go below zero."""
    if delta == 0 or abs(delta) > MAX_STOCK:
        raise ValidationFailed(
            "`delta` must be a non-zero whole number.", fields={"delta": [f"Non-zero, at most {MAX_STOCK} in size."]}
        )
    product = _locked_product(product_id)
    new_quantity = product.stock_quantity + delta
    if new_quantity < 0:
        raise Conflict(
            "Not enough stock.",
            available=product.stock_quantity,
            requested=-delta,
            fields={"delta": [f"Only {product.stock_quantity} in stock."]},
        )
    if new_quantity > MAX_STOCK:
        raise ValidationFailed("Stock would exceed the maximum.", fields={"delta": [f"Stock is limited to {MAX_STOCK}."]})
    previous_quantity = product.stock_quantity
    product.stock_quantity = new_quantity
    product.save(update_fields=["stock_quantity", "updated_at"])  # the bridge: catalog.product.updated
    events.record_stock_adjusted(product=product, delta=delta, previous_quantity=previous_quantity)
    return product


def _check_category_fields(errors: FieldErrors, name: str | None, slug: str | None) -> None:
    check_text(errors, "name", name, max_length=120)
    check_slug(errors, slug)


def _ensure_slug_free(slug: str, exclude_id: Any = None) -> None:
    clash = Category.objects.filter(slug=slug)
    if exclude_id is not None:
        clash = clash.exclude(pk=exclude_id)
    if clash.exists():
        raise Conflict(f"A category with slug {slug!r} already exists.", fields={"slug": ["Already in use."]})


def _save_category(category: Category) -> None:
    try:
        with transaction.atomic():
            category.save()
    except IntegrityError as exc:
        raise Conflict(f"A category with slug {category.slug!r} already exists.", fields={"slug": ["Already in use."]}) from exc


@transaction.atomic
def create_category(*, name: str, slug: str | None = None, parent_id: Any = None) -> Category:
    errors = FieldErrors()
    _check_category_fields(errors, name, slug)
    errors.raise_if_any()
    slug = slug or slugify(name)[:140]
    if not slug:
        raise ValidationFailed("A slug could not be derived from the name.", fields={"slug": ["Give a slug."]})
    parent = _category_or_error(parent_id, "parent_id") if parent_id is not None else None
    _ensure_slug_free(slug)
    category = Category(name=name.strip(), slug=slug, parent=parent)
    _save_category(category)
    return category


@transaction.atomic
def update_category(*, category_id: Any, changes: dict[str, Any]) -> Category:
    errors = FieldErrors()
    _check_category_fields(errors, changes.get("name"), changes.get("slug"))
    for field in ("name", "slug"):
        if field in changes and changes[field] is None:
            errors.add(field, "Must not be null.")
    errors.raise_if_any()
    category = _locked_category(category_id)
    if "parent_id" in changes:
        parent_id = changes["parent_id"]
        parent = _category_or_error(parent_id, "parent_id") if parent_id is not None else None
        if parent is not None and _would_cycle(category, parent):
            raise ValidationFailed("A category cannot be its own ancestor.", fields={"parent_id": ["Would create a cycle."]})
        category.parent = parent
    if "name" in changes:
        category.name = changes["name"].strip()
    if "slug" in changes and changes["slug"] != category.slug:
        _ensure_slug_free(changes["slug"], exclude_id=category.pk)
        category.slug = changes["slug"]
    _save_category(category)
    return category


def _would_cycle(category: Category, new_parent: Category) -> bool:
    node: Category | None = new_parent
    seen = set()
    while node is not None and node.pk not in seen:
        if node.pk == category.pk:
            return True
        seen.add(node.pk)
        node = node.parent
    return False


@transaction.atomic
def delete_category(*, category_id: Any) -> str:
    category = _locked_category(category_id)
    products = category.products.count()
    children = category.children.count()
    if products or children:
        raise Conflict(
            "Category is in use.",
            products=products,
            subcategories=children,
            fields={"id": [f"Used by {products} product(s) and {children} subcategory(ies)."]},
        )
    deleted_id = str(category.pk)
    category.delete()
    return deleted_id
