"""Catalog read operations (the schema side; the read side itself is catalog/queries.py).

`products` lists active products unless the caller asks otherwise: `filter: {isActive: false}`
(inactive only) or `isActive: null` (both) need `catalog.view_product` or `catalog.change_product`
(staff); anyone else asking gets FORBIDDEN. The effective `is_active` is part of the data cache's
key (ProductFilter.cache_key), and answers to such staff queries carry credentials, which the
public result cache never stores.
"""

from __future__ import annotations

from typing import Any

import graphene
from common.auth.principal import principal_from_info
from common.errors import PermissionDenied, ValidationFailed
from graphene import relay
from graphene_federation import FederationVersion, list_size

from catalog import queries
from catalog.schema.loaders import category_tree
from catalog.schema.types import CategoryType, Edge, ProductConnection, ProductType
from catalog.validation import parse_uuid

ProductOrderBy = graphene.Enum(
    "ProductOrderBy", [(order.name, order.name) for order in queries.ProductOrder], description="Sort order of products."
)


class ProductFilterInput(graphene.InputObjectType):
    search = graphene.String(description="Case-insensitive match in the name or SKU.")
    category_id = graphene.ID(description="Products of this category and its subcategories.")
    min_price = graphene.Decimal()
    max_price = graphene.Decimal()
    in_stock = graphene.Boolean()
    is_active = graphene.Boolean(
        description="Default true (active products only). false or null (all) need catalog.view_product."
    )


# Either lets a caller list inactive products.
SEE_INACTIVE_PERMS = ("catalog.view_product", "catalog.change_product")


def _is_active(raw: dict[str, Any], info: graphene.ResolveInfo) -> bool | None:
    if "is_active" not in raw:  # not sent: the public default
        return True
    wanted = raw["is_active"]
    if wanted is not True:
        principal = principal_from_info(info)
        if not any(principal.has_perms([perm]) for perm in SEE_INACTIVE_PERMS):
            raise PermissionDenied(
                "Only staff with catalog.view_product may list inactive products: leave out `isActive` or pass true."
            )
    return wanted


def _product_filter(raw: dict[str, Any] | None, info: graphene.ResolveInfo) -> queries.ProductFilter:
    raw = raw or {}
    category_id = raw.get("category_id")
    min_price, max_price = raw.get("min_price"), raw.get("max_price")
    if min_price is not None and max_price is not None and min_price > max_price:
        raise ValidationFailed("`minPrice` is above `maxPrice`.", fields={"min_price": ["Must not exceed maxPrice."]})
    search = raw.get("search")
    if search is not None and len(search) > 200:
        raise ValidationFailed("Search text is too long.", fields={"search": ["At most 200 characters."]})
    return queries.ProductFilter(
        search=search,
        category_id=parse_uuid(category_id, "category_id") if category_id is not None else None,
        min_price=min_price,
        max_price=max_price,
        in_stock=raw.get("in_stock"),
        is_active=_is_active(raw, info),
    )


class CatalogQuery(graphene.ObjectType):
    class Meta:
        name = "Query"

    product = graphene.Field(ProductType, id=graphene.ID(required=True))
    product_by_sku = graphene.Field(ProductType, sku=graphene.String(required=True))
    # @listSize: the gateway's cost limit counts `edges` as `first` items (federation demand control).
    products = list_size(
        graphene.Field(
            ProductConnection,
            required=True,
            filter=ProductFilterInput(),
            order_by=ProductOrderBy(default_value="NAME_ASC"),
            first=graphene.Int(default_value=20, description=f"Page size, 1 to {queries.MAX_PAGE_SIZE}."),
            after=graphene.String(),
        ),
        slicing_arguments=["first"],
        sized_fields=["edges"],
        federation_version=FederationVersion.VERSION_2_9,
    )
    category = graphene.Field(CategoryType, id=graphene.ID(required=True))
    categories = list_size(
        graphene.List(graphene.NonNull(CategoryType), required=True),
        assumed_size=100,
        federation_version=FederationVersion.VERSION_2_9,
    )

    @staticmethod
    def resolve_product(root: Any, info: graphene.ResolveInfo, id: str) -> Any:
        return queries.get_product(id)

    @staticmethod
    def resolve_product_by_sku(root: Any, info: graphene.ResolveInfo, sku: str) -> Any:
        return queries.get_product_by_sku(sku)

    @staticmethod
    def resolve_products(
        root: Any,
        info: graphene.ResolveInfo,
        first: int,
        order_by: Any,
        after: str | None = None,
        filter: dict[str, Any] | None = None,
    ) -> ProductConnection:
        if not 1 <= first <= queries.MAX_PAGE_SIZE:
            raise ValidationFailed(
                f"`first` must be between 1 and {queries.MAX_PAGE_SIZE}.",
                fields={"first": [f"Between 1 and {queries.MAX_PAGE_SIZE}."]},
            )
        order_name = order_by if isinstance(order_by, str) else order_by.name
        product_filter = _product_filter(filter, info)
        page = queries.product_page(
            product_filter=product_filter,
            order=queries.ProductOrder[order_name],
            first=first,
            after=after,
        )
        edges = [Edge(node, cursor) for node, cursor in zip(page.items, page.cursors, strict=True)]
        connection = ProductConnection(
            edges=edges,
            page_info=relay.PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=page.cursors[0] if page.cursors else None,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
        )
        connection.product_filter = product_filter
        return connection

    @staticmethod
    def resolve_category(root: Any, info: graphene.ResolveInfo, id: str) -> Any:
        return category_tree(info).get(id)

    @staticmethod
    def resolve_categories(root: Any, info: graphene.ResolveInfo) -> Any:
        return category_tree(info).ordered
