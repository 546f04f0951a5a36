"""The row checks of the fuzz tests (common.testing.rows) refuse what they must: writes by a failed
root field, successes that wrote other rows than their EFFECTS entry, writes by reads."""

from __future__ import annotations

from collections import Counter

import graphql
import pytest
from common.testing import rows

CREATE = 'mutation { createProduct(input: {sku: "A", name: "a", price: "1"}) { product { id } } }'
TWO = ('mutation { a: createProduct(input: {sku: "A", name: "a", price: "1"}) { product { id } } '
       'deleteProduct(id: "x") { deletedId } }')
CREATED = rows.Changes({"catalog.catalog_product": 1, "catalog.events_outboxevent": 1},
                       {"catalog.catalog_product", "catalog.events_outboxevent"}, Counter({"catalog.product.created": 1}))
NONE = rows.Changes({}, set(), Counter())
OK = {"data": {"createProduct": {"product": {"id": "1"}}}}
FAILED = {"data": None, "errors": [{"message": "x", "path": ["createProduct"], "extensions": {"code": "CONFLICT"}}]}


def test_a_success_must_write_its_effect():
    rows.check_effects(CREATE, OK, CREATED)
    with pytest.raises(AssertionError, match="otherwise than the answer says"):
        rows.check_effects(CREATE, OK, NONE)
    extra = rows.Changes({**CREATED.rows, "catalog.catalog_category": 1}, CREATED.touched | {"catalog.catalog_category"},
                         CREATED.events)
    with pytest.raises(AssertionError, match="otherwise"):
        rows.check_effects(CREATE, OK, extra)
    with pytest.raises(AssertionError, match="otherwise"):  # an event too many
        rows.check_effects(CREATE, OK, rows.Changes(CREATED.rows, CREATED.touched, CREATED.events + Counter(["x"])))


def test_a_failure_or_a_refused_request_writes_nothing():
    rows.check_effects(CREATE, FAILED, NONE)
    with pytest.raises(AssertionError, match="nothing succeeded"):
        rows.check_effects(CREATE, FAILED, CREATED)
    refused = {"errors": [{"message": "bad", "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]}
    with pytest.raises(AssertionError, match="nothing succeeded"):
        rows.check_effects(CREATE, refused, CREATED)
    # Content changed without a count change (an update on error) is caught too.
    with pytest.raises(AssertionError, match="nothing succeeded"):
        rows.check_effects(CREATE, FAILED, rows.Changes({}, {"catalog.catalog_product"}, Counter()))


def test_reads_and_garbage_write_nothing():
    rows.check_effects("{ products { id } }", {"data": {}}, NONE)
    with pytest.raises(AssertionError):
        rows.check_effects("{ products { id } }", {"data": {}}, CREATED)
    with pytest.raises(AssertionError):
        rows.check_effects("", None, CREATED)


def test_an_error_below_the_root_field_means_it_ran_and_unknown_may_be_either():
    nested = {"data": None, "errors": [{"message": "x", "path": ["createProduct", "product", "id"],
                                        "extensions": {"code": "NOT_FOUND"}}]}
    assert rows.root_outcomes(CREATE, nested) == {"createProduct": ("createProduct", rows.SUCCEEDED)}
    rows.check_effects(CREATE, nested, CREATED)
    # deleteProduct failed at its own path; `a` (before it) has no word: its effect or nothing.
    body = {"data": None, "errors": [{"message": "x", "path": ["deleteProduct"], "extensions": {"code": "NOT_FOUND"}}]}
    assert rows.root_outcomes(TWO, body) == {"a": ("createProduct", rows.UNKNOWN),
                                             "deleteProduct": ("deleteProduct", rows.FAILED)}
    rows.check_effects(TWO, body, CREATED)
    rows.check_effects(TWO, body, NONE)


def test_every_mutation_needs_an_effect():
    schema = graphql.build_schema("type Query { a: Int } type Mutation { createProduct: Int launchRocket: Int }")
    assert rows.missing_effects(schema) == ["launchRocket"]
    with pytest.raises(AssertionError, match="launchRocket"):
        rows.check_effects("mutation { launchRocket }", {"data": {"launchRocket": 1}}, NONE)
