"""GraphQL object types of the catalog (federation entities Product and Category)."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

import graphene
from graphene import relay
from graphene_django import DjangoObjectType
from graphene_federation import FederationVersion, key, list_size, shareable

from catalog import queries
from catalog.models import Category, Product
from catalog.schema.loaders import category_tree


# @shareable: the cart and orders serve the same value type for their prices.
@shareable(federation_version=FederationVersion.VERSION_2_9)
class Money(graphene.ObjectType):
    amount = graphene.Decimal(required=True)
    currency = graphene.String(required=True, description="ISO 4217 code.")


class Price(NamedTuple):
    """What `Product.price` resolves to: Money's fields, read by attribute. Building a graphene ObjectType
    costs ~3-6 µs, once per product of a list (docs/performance.md §2); Money checks no runtime type."""

    amount: Decimal
    currency: str


class Edge(NamedTuple):
    """An edge of a product list (ProductConnection.Edge's fields, without building a graphene ObjectType)."""

    node: Product
    cursor: str


@key(fields="id")
class CategoryType(DjangoObjectType):
    id = graphene.ID(required=True)
    parent = graphene.Field(lambda: CategoryType)
    # @listSize tells the gateway's cost limit how long a list can get (federation demand control).
    children = list_size(
        graphene.List(graphene.NonNull(lambda: CategoryType), required=True),
        assumed_size=20,
        federation_version=FederationVersion.VERSION_2_9,
    )

    class Meta:
        model = Category
        name = "Category"
        fields = ("id", "name", "slug", "parent", "children", "created_at", "updated_at")

    @staticmethod
    def resolve_children(category: Category, info: graphene.ResolveInfo) -> list[Category]:
        # Served from prefetch_related("children") when the list query asked for it.
        return list(category.children.all())


@key(fields="id")
class ProductType(DjangoObjectType):
    id = graphene.ID(required=True)
    price = graphene.Field(Money, required=True)
    in_stock = graphene.Boolean(required=True)
    category = graphene.Field(CategoryType)

    class Meta:
        model = Product
        name = "Product"
        fields = (
            "id",
            "sku",
            "name",
            "description",
            "stock_quantity",
            "category",
            "is_active",
            "created_at",
            "updated_at",
        )

    @staticmethod
    def resolve_category(product: Product, info: graphene.ResolveInfo) -> Category | None:
        if product.category_id is None:
            return None
        return category_tree(info).get(product.category_id)

    @staticmethod
    def resolve_price(product: Product, info: graphene.ResolveInfo) -> Price:
        return Price(product.price, product.currency)

    @staticmethod
    def resolve_in_stock(product: Product, info: graphene.ResolveInfo) -> bool:
        return product.in_stock


class ProductConnection(relay.Connection):
    class Meta:
        node = ProductType

    total_count = graphene.Int(required=True, description="Products matching the filter, over all pages.")

    def resolve_total_count(self, info: graphene.ResolveInfo) -> int:
        # Counted only when a client asks for it (set by the `products` resolver).
        return queries.count_products(self.product_filter)
