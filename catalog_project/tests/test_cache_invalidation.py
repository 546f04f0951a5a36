"""The catalog's data cache against real Redis and PostgreSQL: warm reads cost no SQL, and every
kind of write (GraphQL, admin, shell, another process) is visible at the writer's next read.

These tests commit for real (`transactional_db`): invalidation runs on commit, and inside a
test transaction the cache stays out of the way by design.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from catalog import queries
from catalog.cache import invalidate_everything
from catalog.models import Category, Product
from common.events.bridge import EventlessWrite
from django.conf import settings
from django.db import connection, transaction

pytestmark = pytest.mark.django_db(transaction=True)

DETAIL = "query($id: ID!) { product(id: $id) { id sku name stockQuantity inStock price { amount } category { name } } }"
BY_SKU = "query($sku: String!) { productBySku(sku: $sku) { id sku name } }"
PAGE = """
query($filter: ProductFilterInput, $first: Int) {
  products(first: $first, filter: $filter) { totalCount edges { node { sku name stockQuantity category { name } } } }
}
"""
CATEGORIES = "{ categories { name slug parent { name } children { name } } }"
UPDATE = "mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { product { id } } }"
ADJUST = "mutation($id: ID!, $delta: Int!) { adjustStock(productId: $id, delta: $delta) { product { stockQuantity } } }"


def skus(reader, filter=None, first=50):
    page = reader.data(PAGE, {"filter": filter, "first": first})["products"]
    return [edge["node"]["sku"] for edge in page["edges"]], page["totalCount"]


def test_warm_reads_cost_no_sql(anon_gql, make_product, category, django_assert_num_queries):
    Category.objects.create(name="Lamps", slug="lamps", parent=category)
    products = [make_product() for _ in range(30)]
    detail = {"id": str(products[0].pk)}
    with django_assert_num_queries(2):  # product + category tree, both now cached
        cold = anon_gql.data(DETAIL, detail)
    with django_assert_num_queries(0):
        assert anon_gql.data(DETAIL, detail) == cold
    with django_assert_num_queries(2):  # page + count (the tree is cached already)
        page = anon_gql.data(PAGE, {"first": 20})
    with django_assert_num_queries(1):
        by_sku = anon_gql.data(BY_SKU, {"sku": products[1].sku})
    with django_assert_num_queries(0):
        assert anon_gql.data(PAGE, {"first": 20}) == page
        categories = anon_gql.data(CATEGORIES)
        assert anon_gql.data(BY_SKU, {"sku": products[1].sku}) == by_sku
    assert {"name": "Lighting", "slug": "lighting", "parent": None, "children": [{"name": "Lamps"}]} in categories["categories"]


def test_entities_batch_is_cached_per_product(anon_gql, make_product, django_assert_num_queries):
    query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id sku category { name } } } }"
    products = [make_product() for _ in range(100)]
    first_half = [{"__typename": "Product", "id": str(p.pk)} for p in products[:50]]
    everything = [{"__typename": "Product", "id": str(p.pk)} for p in products]
    with django_assert_num_queries(2):  # 50 products in one query + the category tree
        anon_gql.data(query, {"r": first_half})
    with django_assert_num_queries(1):  # only the 50 not cached yet, in one query
        entities = anon_gql.data(query, {"r": everything})["_entities"]
    assert [e["sku"] for e in entities] == [p.sku for p in products]
    with django_assert_num_queries(0):
        assert anon_gql.data(query, {"r": everything})["_entities"] == entities
    # The same entries serve `product(id)`: one cache for both ways of asking.
    with django_assert_num_queries(0):
        assert anon_gql.data(DETAIL, {"id": str(products[70].pk)})["product"]["sku"] == products[70].sku


def test_create_product_shows_up_in_lists_counts_and_lookups(gql, anon_gql, make_product, category):
    make_product(sku="OLD-1")
    unknown_id = "6f1b7a55-0000-4000-8000-000000000001"
    assert skus(anon_gql) == (["OLD-1"], 1)
    assert anon_gql.data(DETAIL, {"id": unknown_id})["product"] is None  # misses are cached too
    assert anon_gql.data(BY_SKU, {"sku": "NEW-1"})["productBySku"] is None
    gql.data(
        "mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }",
        {"input": {"sku": "NEW-1", "name": "Zed", "price": "5", "categoryId": str(category.pk)}},
    )
    assert skus(anon_gql) == (["OLD-1", "NEW-1"], 2)
    assert anon_gql.data(BY_SKU, {"sku": "NEW-1"})["productBySku"]["name"] == "Zed"
    # A product created under a previously-missing id (shell/admin may choose ids) is found too.
    Product.objects.create(id=unknown_id, sku="FIXED-ID", name="Fixed", price=Decimal(1))
    assert anon_gql.data(DETAIL, {"id": unknown_id})["product"]["sku"] == "FIXED-ID"


def test_update_product_refreshes_detail_sku_lookups_and_lists(gql, anon_gql, make_product):
    product = make_product(sku="LAMP-1", name="Lamp")
    pid = str(product.pk)
    assert anon_gql.data(DETAIL, {"id": pid})["product"]["name"] == "Lamp"
    assert anon_gql.data(BY_SKU, {"sku": "LAMP-1"})["productBySku"]["id"] == pid
    assert anon_gql.data(BY_SKU, {"sku": "LAMP-2"})["productBySku"] is None
    assert skus(anon_gql, {"search": "lamp"}) == (["LAMP-1"], 1)

    gql.data(UPDATE, {"id": pid, "input": {"name": "Desk Light", "sku": "LAMP-2"}})

    assert anon_gql.data(DETAIL, {"id": pid})["product"]["name"] == "Desk Light"
    assert anon_gql.data(BY_SKU, {"sku": "LAMP-1"})["productBySku"] is None  # the old SKU is gone
    assert anon_gql.data(BY_SKU, {"sku": "LAMP-2"})["productBySku"]["id"] == pid
    assert skus(anon_gql, {"search": "light"}) == (["LAMP-2"], 1)
    assert skus(anon_gql, {"search": "lamp"}) == (["LAMP-2"], 1)  # still matches by SKU


def test_delete_product_removes_it_everywhere(gql, anon_gql, make_product):
    keep, gone = make_product(), make_product()
    assert skus(anon_gql) == ([keep.sku, gone.sku], 2)
    assert anon_gql.data(DETAIL, {"id": str(gone.pk)})["product"] is not None
    assert anon_gql.data(BY_SKU, {"sku": gone.sku})["productBySku"] is not None
    gql.data("mutation($id: ID!) { deleteProduct(id: $id) { deletedId } }", {"id": str(gone.pk)})
    assert skus(anon_gql) == ([keep.sku], 1)
    assert anon_gql.data(DETAIL, {"id": str(gone.pk)})["product"] is None
    assert anon_gql.data(BY_SKU, {"sku": gone.sku})["productBySku"] is None


def test_stock_change_refreshes_detail_and_stock_filters(gql, anon_gql, make_product):
    product = make_product(stock_quantity=1)
    pid = str(product.pk)
    assert anon_gql.data(DETAIL, {"id": pid})["product"]["inStock"] is True
    assert skus(anon_gql, {"inStock": True}) == ([product.sku], 1)
    assert skus(anon_gql, {"inStock": False}) == ([], 0)
    gql.data(ADJUST, {"id": pid, "delta": -1})
    assert anon_gql.data(DETAIL, {"id": pid})["product"]["stockQuantity"] == 0
    assert skus(anon_gql, {"inStock": True}) == ([], 0)
    assert skus(anon_gql, {"inStock": False}) == ([product.sku], 1)


def test_category_changes_refresh_tree_products_and_category_filters(gql, anon_gql, make_product, category):
    other = Category.objects.create(name="Garden", slug="garden")
    product = make_product()
    assert anon_gql.data(DETAIL, {"id": str(product.pk)})["product"]["category"] == {"name": "Lighting"}
    assert skus(anon_gql, {"categoryId": str(other.pk)}) == ([], 0)
    names = {c["name"] for c in anon_gql.data(CATEGORIES)["categories"]}
    assert names == {"Lighting", "Garden"}

    gql.data(
        'mutation($id: ID!) { updateCategory(id: $id, input: {name: "Lights"}) { category { id } } }', {"id": str(category.pk)}
    )
    assert anon_gql.data(DETAIL, {"id": str(product.pk)})["product"]["category"] == {"name": "Lights"}

    # Moving Lighting under Garden makes its products part of Garden's (filtered) list.
    gql.data(
        "mutation($id: ID!, $p: ID) { updateCategory(id: $id, input: {parentId: $p}) { category { id } } }",
        {"id": str(category.pk), "p": str(other.pk)},
    )
    assert skus(anon_gql, {"categoryId": str(other.pk)}) == ([product.sku], 1)
    garden = next(c for c in anon_gql.data(CATEGORIES)["categories"] if c["name"] == "Garden")
    assert garden["children"] == [{"name": "Lights"}]

    created = gql.data('mutation { createCategory(input: {name: "Tools"}) { category { id } } }')
    tools_id = created["createCategory"]["category"]["id"]
    assert "Tools" in {c["name"] for c in anon_gql.data(CATEGORIES)["categories"]}
    gql.data("mutation($id: ID!) { deleteCategory(id: $id) { deletedId } }", {"id": tools_id})
    assert "Tools" not in {c["name"] for c in anon_gql.data(CATEGORIES)["categories"]}
    assert anon_gql.data('query($id: ID!) { category(id: $id) { name } }', {"id": tools_id})["category"] is None


def test_moving_a_product_to_another_category(gql, anon_gql, make_product, category):
    other = Category.objects.create(name="Garden", slug="garden")
    product = make_product()
    assert skus(anon_gql, {"categoryId": str(category.pk)}) == ([product.sku], 1)
    gql.data(UPDATE, {"id": str(product.pk), "input": {"categoryId": str(other.pk)}})
    assert skus(anon_gql, {"categoryId": str(category.pk)}) == ([], 0)
    assert skus(anon_gql, {"categoryId": str(other.pk)}) == ([product.sku], 1)
    assert anon_gql.data(DETAIL, {"id": str(product.pk)})["product"]["category"] == {"name": "Garden"}


def test_change_through_django_admin_is_visible_at_once(anon_gql, admin_client, make_product, category):
    product = make_product(name="Before", stock_quantity=3)
    pid = str(product.pk)
    assert anon_gql.data(DETAIL, {"id": pid})["product"]["name"] == "Before"
    assert skus(anon_gql, {"search": "after"}) == ([], 0)
    response = admin_client.post(
        f"/admin/catalog/product/{pid}/change/",
        {
            "sku": product.sku,
            "name": "After",
            "description": "",
            "price": "12.50",
            "currency": "USD",
            "stock_quantity": "0",
            "category": str(category.pk),
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    fresh = anon_gql.data(DETAIL, {"id": pid})["product"]
    assert (fresh["name"], fresh["stockQuantity"], fresh["price"]["amount"]) == ("After", 0, "12.50")
    assert skus(anon_gql, {"search": "after"}) == ([product.sku], 1)

    admin_client.post(f"/admin/catalog/product/{pid}/delete/", {"post": "yes"})
    assert anon_gql.data(DETAIL, {"id": pid})["product"] is None
    category_response = admin_client.post(
        f"/admin/catalog/category/{category.pk}/change/", {"name": "Renamed In Admin", "slug": "lighting", "parent": ""}
    )
    assert category_response.status_code == 302
    assert "Renamed In Admin" in {c["name"] for c in anon_gql.data(CATEGORIES)["categories"]}


def test_change_from_the_shell_and_bulk_writes(anon_gql, make_product):
    product = make_product(name="Shell Before")
    pid = str(product.pk)
    assert anon_gql.data(DETAIL, {"id": pid})["product"]["name"] == "Shell Before"
    product.name = "Shell After"
    product.save()  # autocommit: invalidated at once
    assert anon_gql.data(DETAIL, {"id": pid})["product"]["name"] == "Shell After"

    # QuerySet.update() would send no signals: the bridged manager refuses it...
    with pytest.raises(EventlessWrite, match="update_with_events"):
        Product.objects.filter(pk=pid).update(name="Refused")
    # ...and its evented form invalidates (and records the event) like a save.
    assert Product.objects.filter(pk=pid).update_with_events(name="Bulk") == 1
    assert anon_gql.data(DETAIL, {"id": pid})["product"]["name"] == "Bulk"

    # Raw SQL cannot be seen: the cache keeps the old value until told.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE catalog_product SET name = %s WHERE id = %s", ["Raw", pid])
    assert anon_gql.data(DETAIL, {"id": pid})["product"]["name"] == "Bulk"
    invalidate_everything()
    assert anon_gql.data(DETAIL, {"id": pid})["product"]["name"] == "Raw"


def test_seed_command_invalidates_lists(anon_gql):
    from io import StringIO

    from django.core.management import call_command

    assert skus(anon_gql) == ([], 0)
    call_command("seed_catalog", products=5, seed=3, stdout=StringIO())
    active = Product.objects.filter(is_active=True).count()
    assert active > 0 and skus(anon_gql)[1] == active  # public lists: active products only


def test_rolled_back_write_keeps_the_cache(gql, anon_gql, make_product, isolated_cache):
    product = make_product(name="Kept")
    pid = str(product.pk)
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert anon_gql.data(DETAIL, {"id": pid})["product"]["name"] == "Kept"
    version = client.get(f"{isolated_cache}:ns:product:{pid}")
    with pytest.raises(RuntimeError), transaction.atomic():
        Product._base_manager.filter(pk=pid).update(name="Never")  # bypasses the bridge
        locked = Product.objects.get(pk=pid)
        locked.name = "Never"
        locked.save()
        raise RuntimeError("abort")
    assert client.get(f"{isolated_cache}:ns:product:{pid}") == version  # nothing was bumped
    error = gql.error(UPDATE, {"id": pid, "input": {"name": "  "}})  # rejected mutation: nothing written
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert client.get(f"{isolated_cache}:ns:product:{pid}") == version
    assert anon_gql.data(DETAIL, {"id": pid})["product"]["name"] == "Kept"


def test_reads_inside_a_transaction_see_its_own_writes_and_are_not_cached(make_product, isolated_cache):
    product = make_product(name="Outside")
    assert queries.get_product(product.pk).name == "Outside"  # cached now
    with transaction.atomic():
        Product._base_manager.filter(pk=product.pk).update(name="Inside")  # bypasses the bridge
        assert queries.get_product(product.pk).name == "Inside"
        transaction.set_rollback(True)
    assert queries.get_product(product.pk).name == "Outside"


def test_write_in_another_process_is_seen_here(anon_gql, make_product, isolated_cache):
    """Versions live in Redis: a write made by another process (here a `manage.py shell`)
    invalidates this process's reads."""
    product = make_product(name="Here")
    pid = str(product.pk)
    assert anon_gql.data(DETAIL, {"id": pid})["product"]["name"] == "Here"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "catalog_project.settings.dev",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CACHE_KEY_PREFIX": isolated_cache,
        "REDIS_URL": settings.REDIS_URL,
    }
    code = f"from catalog import commands; commands.update_product(product_id={pid!r}, changes={{'name': 'There'}})"
    project = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=project, env=env, check=True, timeout=60)
    assert anon_gql.data(DETAIL, {"id": pid})["product"]["name"] == "There"


def test_changes_are_published_for_other_caches(gql, anon_gql, make_product, isolated_cache):
    product = make_product()
    client = redis.Redis.from_url(settings.REDIS_URL)
    subscription = client.pubsub(ignore_subscribe_messages=True)
    subscription.subscribe(f"{isolated_cache}:changes")
    try:
        changes_before = client.get(f"{isolated_cache}:ns:changes")
        gql.data(ADJUST, {"id": str(product.pk), "delta": 2})
        deadline = time.monotonic() + 5
        message = None
        while message is None and time.monotonic() < deadline:
            message = subscription.get_message(timeout=0.2)
        assert message is not None, "no change notification"
        body = json.loads(message["data"])
        assert {"typename": "Product", "id": str(product.pk)} in body["entities"]
        assert {"products", "changes", f"product:{product.pk}"} <= set(body["namespaces"])
        assert client.get(f"{isolated_cache}:ns:changes") != changes_before
    finally:
        subscription.close()
