"""Per-request batching (DataLoader style) for the catalog's GraphQL layer."""

from __future__ import annotations

import graphene

from catalog import queries

_TREE_ATTRIBUTE = "_catalog_category_tree"


def category_tree(info: graphene.ResolveInfo) -> queries.CategoryTree:
    """One category tree per request: every category in a response (product categories, parents,
    children, `_entities`) comes from it, so categories never cost a query per row."""
    context = info.context
    tree = getattr(context, _TREE_ATTRIBUTE, None)
    if tree is None:
        tree = queries.category_tree()
        setattr(context, _TREE_ATTRIBUTE, tree)
    return tree
