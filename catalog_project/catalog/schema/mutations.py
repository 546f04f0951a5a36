"""Catalog write operations: thin wrappers over catalog.commands.

Reads are public; every write needs its catalog permission (PBAC, checked in this subgraph
whatever the gateway did). The `catalog_manager` and `admin` roles carry them.
"""

from __future__ import annotations

from typing import Any

import graphene
from common.auth.decorators import permission_required

from catalog import commands
from catalog.schema.types import CategoryType, ProductType


def _provided(data: dict[str, Any]) -> dict[str, Any]:
    """Only the fields the client sent (an explicit null is kept, a missing field is not)."""
    return dict(data.items())


class CreateProductInput(graphene.InputObjectType):
    sku = graphene.String(required=True)
    name = graphene.String(required=True)
    description = graphene.String()
    price = graphene.Decimal(required=True)
    currency = graphene.String(description="ISO 4217 code; defaults to the CATALOG_DEFAULT_CURRENCY setting (USD).")
    stock_quantity = graphene.Int()
    category_id = graphene.ID()
    is_active = graphene.Boolean()


class UpdateProductInput(graphene.InputObjectType):
    sku = graphene.String()
    name = graphene.String()
    description = graphene.String()
    price = graphene.Decimal()
    currency = graphene.String()
    stock_quantity = graphene.Int()
    category_id = graphene.ID(description="null removes the product from its category.")
    is_active = graphene.Boolean()


class CreateProduct(graphene.Mutation):
    class Arguments:
        input = CreateProductInput(required=True)

    product = graphene.Field(ProductType, required=True)

    @staticmethod
    @permission_required("catalog.add_product")
    def mutate(root: Any, info: graphene.ResolveInfo, input: dict[str, Any]) -> CreateProduct:
        fields = {key: value for key, value in _provided(input).items() if value is not None}
        return CreateProduct(product=commands.create_product(**fields))


class UpdateProduct(graphene.Mutation):
    class Arguments:
        id = graphene.ID(required=True)
        input = UpdateProductInput(required=True)

    product = graphene.Field(ProductType, required=True)

    @staticmethod
    @permission_required("catalog.change_product")
    def mutate(root: Any, info: graphene.ResolveInfo, id: str, input: dict[str, Any]) -> UpdateProduct:
        return UpdateProduct(product=commands.update_product(product_id=id, changes=_provided(input)))


class DeleteProduct(graphene.Mutation):
    class Arguments:
        id = graphene.ID(required=True)

    deleted_id = graphene.ID(required=True)

    @staticmethod
    @permission_required("catalog.delete_product")
    def mutate(root: Any, info: graphene.ResolveInfo, id: str) -> DeleteProduct:
        return DeleteProduct(deleted_id=commands.delete_product(product_id=id))


class AdjustStock(graphene.Mutation):
    class Arguments:
        product_id = graphene.ID(required=True)
        delta = graphene.Int(required=True, description="Units to add (positive) or remove (negative).")

    product = graphene.Field(ProductType, required=True)

    @staticmethod
    @permission_required("catalog.change_product")
    def mutate(root: Any, info: graphene.ResolveInfo, product_id: str, delta: int) -> AdjustStock:
        return AdjustStock(product=commands.adjust_stock(product_id=product_id, delta=delta))


class CreateCategoryInput(graphene.InputObjectType):
    name = graphene.String(required=True)
    slug = graphene.String(description="Derived from the name when left out.")
    parent_id = graphene.ID()


class UpdateCategoryInput(graphene.InputObjectType):
    name = graphene.String()
    slug = graphene.String()
    parent_id = graphene.ID(description="null makes it a top-level category.")


class CreateCategory(graphene.Mutation):
    class Arguments:
        input = CreateCategoryInput(required=True)

    category = graphene.Field(CategoryType, required=True)

    @staticmethod
    @permission_required("catalog.add_category")
    def mutate(root: Any, info: graphene.ResolveInfo, input: dict[str, Any]) -> CreateCategory:
        return CreateCategory(category=commands.create_category(**_provided(input)))


class UpdateCategory(graphene.Mutation):
    class Arguments:
        id = graphene.ID(required=True)
        input = UpdateCategoryInput(required=True)

    category = graphene.Field(CategoryType, required=True)

    @staticmethod
    @permission_required("catalog.change_category")
    def mutate(root: Any, info: graphene.ResolveInfo, id: str, input: dict[str, Any]) -> UpdateCategory:
        return UpdateCategory(category=commands.update_category(category_id=id, changes=_provided(input)))


class DeleteCategory(graphene.Mutation):
    class Arguments:
        id = graphene.ID(required=True)

    deleted_id = graphene.ID(required=True)

    @staticmethod
    @permission_required("catalog.delete_category")
    def mutate(root: Any, info: graphene.ResolveInfo, id: str) -> DeleteCategory:
        return DeleteCategory(deleted_id=commands.delete_category(category_id=id))


class CatalogMutation(graphene.ObjectType):
    class Meta:
        name = "Mutation"

    create_product = CreateProduct.Field()
    update_product = UpdateProduct.Field()
    delete_product = DeleteProduct.Field()
    adjust_stock = AdjustStock.Field()
    create_category = CreateCategory.Field()
    update_category = UpdateCategory.Field()
    delete_category = DeleteCategory.Field()
