"""The cart subgraph: schema-first (SDL in *.graphql here), ariadne, Federation v2.9.

ariadne knows federation directives up to v2.6 and strips others from `_service { sdl }`;
`@listSize` (v2.9, the gateway's cost limit) is declared for building the schema only, and
`_service { sdl }` serves the SDL files exactly as written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ariadne import load_schema_from_path
from ariadne.contrib.federation import make_federated_schema
from graphql import GraphQLObjectType

from cart.schema.mutation import mutation
from cart.schema.query import query
from cart.schema.types import datetime_scalar, decimal_scalar, user_type

SDL_DIR = Path(__file__).parent
type_defs = load_schema_from_path(str(SDL_DIR))

# Federation v2.9 directives ariadne 1.1 does not define (definitions from the federation spec).
FEDERATION_2_9_DIRECTIVES = """
directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!],
  requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION
"""

schema = make_federated_schema(
    [type_defs, FEDERATION_2_9_DIRECTIVES], query, mutation, user_type, datetime_scalar, decimal_scalar,
    convert_names_case=True,
)


def _serve_sdl_as_written(_: Any, info: Any) -> dict[str, str]:
    return {"sdl": type_defs}


query_type = schema.query_type
assert isinstance(query_type, GraphQLObjectType)
query_type.fields["_service"].resolve = _serve_sdl_as_written
