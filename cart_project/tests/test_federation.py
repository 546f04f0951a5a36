"""The cart subgraph's federation contract."""

from __future__ import annotations

from pathlib import Path

from ariadne import load_schema_from_path

SDL_DIR = Path(__file__).resolve().parents[1] / "cart" / "schema"


def test_service_sdl_is_exactly_the_sdl_files(gql):
    served = gql.data("{ _service { sdl } }")["_service"]["sdl"]
    assert served == load_schema_from_path(str(SDL_DIR))
    assert sorted(p.name for p in SDL_DIR.glob("*.graphql")) == ["cart.graphql"]
    # What the gateway needs: the v2.9 link (for @listSize), the entity stubs and the cost hint.
    assert 'federation/v2.9"' in served and "@listSize(assumedSize: 100)" in served
    assert 'type Product @key(fields: "id", resolvable: false)' in served
    assert 'type User @key(fields: "id")' in served and "type Money @shareable" in served


def test_introspection_names_the_api_the_clients_call(gql):
    fields = gql.data('{ m: __type(name: "Mutation") { fields { name } } q: __type(name: "Query") { fields { name } } }')
    assert {f["name"] for f in fields["m"]["fields"]} == {
        "addToCart", "updateCartItem", "removeFromCart", "clearCart", "mergeCart"}
    assert "cart" in {f["name"] for f in fields["q"]["fields"]}
    item = gql.data('{ __type(name: "CartItem") { fields { name } } }')["__type"]["fields"]
    assert {f["name"] for f in item} == {"product", "quantity", "unitPrice", "lineTotal", "available"}
