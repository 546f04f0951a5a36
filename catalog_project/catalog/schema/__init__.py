"""The catalog subgraph: code-first graphene schema with Federation v2 entities."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common.graphql.federation import install_batched_entities
from graphene_federation import FederationVersion, build_schema

from catalog.queries import products_by_ids
from catalog.schema.loaders import category_tree
from catalog.schema.mutations import CatalogMutation
from catalog.schema.query import CatalogQuery

# The composition library in the gateway accepts federation links up to v2.9.
schema = build_schema(query=CatalogQuery, mutation=CatalogMutation, federation_version=FederationVersion.VERSION_2_9)


def _ids(representations: list[Mapping[str, Any]]) -> list[Any]:
    return [representation.get("id") for representation in representations]


install_batched_entities(
    schema,
    {
        "Product": lambda reps, info: products_by_ids(_ids(reps)),
        "Category": lambda reps, info: category_tree(info).by_ids(_ids(reps)),
    },
)
