"""SyncExecutionContext's shortcuts give exactly graphql-core's answers: the same data, and the same
errors (message, path, locations, propagation to the nearest nullable parent) for every way a leaf can
fail. Each query runs under graphql-core's own ExecutionContext and under ours; the results must be equal."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import graphene
import pytest
from common.graphql.execution import SyncExecutionContext
from graphene_django import DjangoObjectType
from graphql import ExecutionContext, GraphQLSchema, build_schema, execute, parse

from tests.ownership.models import Note


class Kind(graphene.Enum):
    BOOK = 1
    GAME = 2


class Broken:
    """Attributes that fail the ways a model attribute can."""

    name = "broken"

    @property
    def raising(self) -> str:
        raise ValueError("attribute exploded")

    @property
    def raising_required(self) -> str:
        raise ValueError("required attribute exploded")


class Item(graphene.ObjectType):
    name = graphene.String(required=True)
    count = graphene.Int(required=True)
    maybe = graphene.String()
    missing = graphene.String()
    kind = Kind()
    price = graphene.Decimal(required=True)
    raising = graphene.String()
    raising_required = graphene.String(required=True)
    shout = graphene.String(required=True, loud=graphene.Boolean())
    custom = graphene.String()

    @staticmethod
    def resolve_shout(item: Any, info: Any, loud: bool = False) -> str:
        return str(item.name).upper() if loud else str(item.name)

    @staticmethod
    def resolve_custom(item: Any, info: Any) -> str:
        return f"custom:{info.path.as_list()}"


class Holder(graphene.ObjectType):
    item = graphene.Field(Item)
    required_item = graphene.Field(Item, required=True)
    items = graphene.List(Item)
    strict_items = graphene.List(graphene.NonNull(Item), required=True)


class NoteType(DjangoObjectType):
    class Meta:
        model = Note
        fields = ("id", "title")
        skip_registry = True


def _item(**overrides: Any) -> Item:
    values = {"name": "dune", "count": 3, "maybe": None, "kind": Kind.BOOK, "price": Decimal("9.90")}
    return Item(**{**values, **overrides})


class Query(graphene.ObjectType):
    holder = graphene.Field(Holder)
    fine = graphene.List(Item)
    plain = graphene.Field(Item)
    as_dict = graphene.Field(Item)
    note = graphene.Field(NoteType)

    @staticmethod
    def resolve_holder(root: Any, info: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "item": _item(count="not a number"),  # Int cannot serialize it
            "required_item": _item(name=None),  # a non-null leaf that is None
            "items": [_item(), _item(name=None), _item(count=ValueError("a returned exception"))],
            "strict_items": [_item(), _item(price="not a decimal")],
        }
        return values

    @staticmethod
    def resolve_fine(root: Any, info: Any) -> list[Any]:
        return [_item(name=f"item {n}", count=n, maybe="yes" if n % 2 else None) for n in range(5)]

    @staticmethod
    def resolve_plain(root: Any, info: Any) -> Broken:
        return Broken()

    @staticmethod
    def resolve_as_dict(root: Any, info: Any) -> dict[str, Any]:
        return {"name": "from a dict", "count": 1, "price": Decimal("1"), "kind": Kind.GAME}

    @staticmethod
    def resolve_note(root: Any, info: Any) -> Note:
        return Note(id=uuid.UUID("12345678-1234-5678-1234-567812345678"), title="a note")


SCHEMA = graphene.Schema(query=Query).graphql_schema
LEAVES = "name count maybe missing kind price"

QUERIES = {
    "every leaf of a list": f"{{ fine {{ {LEAVES} shout(loud: true) custom __typename }} }}",
    "aliases, fragments, a field twice": """
        { fine { a: name b: name ...F } plain { name } }
        fragment F on Item { c: count kind ... on Item { price } }""",
    "a serialization error in a nullable object": f"{{ holder {{ item {{ {LEAVES} }} }} }}",
    "a null non-null leaf propagates to the nullable holder": "{ holder { requiredItem { name count } } }",
    "null and exception items of a nullable list": "{ holder { items { name count } } }",
    "a bad item of a non-null list of non-null items": "{ holder { strictItems { name price } } }",
    "attributes that raise": "{ plain { name raising } }",
    "a required attribute that raises": "{ plain { name raisingRequired } }",
    "dict sources": f"{{ asDict {{ {LEAVES} }} }}",
    "graphene-django's id resolver": "{ note { id title } }",
    "several errors in one answer": "{ holder { items { name } strictItems { price } } fine { name } plain { raising } }",
}


def _run(schema: GraphQLSchema, query: str, context_class: type[ExecutionContext], **options: Any) -> dict[str, Any]:
    result = execute(schema, parse(query), execution_context_class=context_class, **options)
    return result.formatted


@pytest.mark.parametrize("query", list(QUERIES.values()), ids=list(QUERIES))
def test_same_answer_as_graphql_core(query: str) -> None:
    expected = _run(SCHEMA, query, ExecutionContext)
    assert _run(SCHEMA, query, SyncExecutionContext) == expected


def test_the_cases_do_fail_where_they_should() -> None:
    # The error cases above must really produce errors (a comparison of two empty answers proves nothing).
    for name, query in QUERIES.items():
        errors = _run(SCHEMA, query, ExecutionContext).get("errors")
        failing = "error" in name or "null" in name or "raise" in name or "bad" in name
        assert bool(errors) == failing, (name, errors)
    answer = _run(SCHEMA, QUERIES["a null non-null leaf propagates to the nullable holder"], SyncExecutionContext)
    assert answer["data"] == {"holder": None}
    assert answer["errors"][0]["message"] == "Cannot return null for non-nullable field Item.name."
    assert answer["errors"][0]["path"] == ["holder", "requiredItem", "name"]


def test_leaves_skip_the_resolve_info(monkeypatch: pytest.MonkeyPatch) -> None:
    # The shortcut is taken: a list of 5 items with 6 default leaves builds no resolve info for them.
    built: list[str] = []
    original = ExecutionContext.build_resolve_info

    def counting(self: ExecutionContext, field_def: Any, field_nodes: Any, parent_type: Any, path: Any) -> Any:
        built.append(field_nodes[0].name.value)
        return original(self, field_def, field_nodes, parent_type, path)

    monkeypatch.setattr(ExecutionContext, "build_resolve_info", counting)
    _run(SCHEMA, f"{{ fine {{ {LEAVES} custom }} }}", SyncExecutionContext)
    assert built == ["fine"] + ["custom"] * 5


def test_a_middleware_sees_every_field() -> None:
    seen: list[str] = []

    def middleware(next_: Any, root: Any, info: Any, **args: Any) -> Any:
        seen.append(info.field_name)
        return next_(root, info, **args)

    query = "{ fine { name count } }"
    expected = _run(SCHEMA, query, ExecutionContext, middleware=[middleware])
    from_core = list(seen)
    seen.clear()
    assert _run(SCHEMA, query, SyncExecutionContext, middleware=[middleware]) == expected
    assert seen == from_core == ["fine"] + ["name", "count"] * 5


CORE_SCHEMA = build_schema("""
    type Query { things: [Thing!]! }
    type Thing { label: String! greeting: String upper: String! absent: Int }
""")


class Thing:
    def __init__(self, label: Any) -> None:
        self.label = label

    def greeting(self, info: Any) -> str:  # graphql-core's default resolver calls callables with info
        return f"hello from {info.path.as_list()}"

    def upper(self, info: Any) -> Any:
        return None if self.label is None else str(self.label).upper()


@pytest.mark.parametrize("things", [
    [Thing("a"), {"label": "from a mapping", "upper": "UP"}],
    [Thing("a"), Thing(None)],
], ids=["fine", "a null non-null leaf"])
def test_graphql_core_default_resolver(things: list[Any]) -> None:
    query = "{ things { label greeting upper absent __typename } }"
    expected = _run(CORE_SCHEMA, query, ExecutionContext, root_value={"things": things})
    assert _run(CORE_SCHEMA, query, SyncExecutionContext, root_value={"things": things}) == expected
