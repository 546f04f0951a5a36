"""What staff and engineers touch: admin pages, health, the seed command, migrations."""

from __future__ import annotations

from io import StringIO

import pytest
from catalog.models import Category, Product
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_migrations_cover_every_model_change():
    # Fails when a model changed and nobody ran makemigrations.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_health_checks_the_database(client):
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json()["checks"]["database"]["status"] == "ok"


def test_seed_is_deterministic_and_idempotent():
    call_command("seed_catalog", products=50, seed=7, stdout=StringIO())
    first = list(Product.objects.order_by("sku").values_list("id", "sku", "name", "price", "stock_quantity"))
    assert len(first) == 50
    assert Category.objects.filter(parent__isnull=False).count() == 18
    out = StringIO()
    call_command("seed_catalog", products=50, seed=7, if_empty=True, stdout=out)
    assert "not seeding" in out.getvalue()
    Product.objects.all().delete()
    call_command("seed_catalog", products=50, seed=7, stdout=StringIO())
    again = list(Product.objects.order_by("sku").values_list("id", "sku", "name", "price", "stock_quantity"))
    assert again == first


@pytest.mark.parametrize(
    "url",
    [
        "/admin/catalog/product/",
        "/admin/catalog/product/?stock=low",
        "/admin/catalog/product/?stock=out&is_active__exact=1",
        "/admin/catalog/product/?q=lamp",
        "/admin/catalog/product/add/",
        "/admin/catalog/category/",
        "/admin/catalog/category/add/",
    ],
)
def test_admin_pages_load(admin_client, make_product, url):
    make_product(name="Brass Lamp", stock_quantity=2)
    assert admin_client.get(url).status_code == 200


def test_admin_low_stock_filter_lists_only_low_stock(admin_client, make_product):
    make_product(sku="LOW-1", stock_quantity=2)
    make_product(sku="PLENTY-1", stock_quantity=500)
    make_product(sku="NONE-1", stock_quantity=0)
    page = admin_client.get("/admin/catalog/product/?stock=low").content.decode()
    assert "LOW-1" in page
    assert "PLENTY-1" not in page
    assert "NONE-1" not in page


def test_admin_change_page_loads(admin_client, make_product):
    product = make_product()
    assert admin_client.get(f"/admin/catalog/product/{product.pk}/change/").status_code == 200
