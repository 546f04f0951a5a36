"""Catalog service settings shared by every environment."""

from pathlib import Path

from common.settings import database_config, env_int
from common.settings.defaults import *  # noqa: F403
from common.settings.defaults import SHARED_APPS

SERVICE_NAME = "catalog"
BASE_DIR = Path(__file__).resolve().parents[2]
STATIC_ROOT = BASE_DIR / "staticfiles"

INSTALLED_APPS = [*SHARED_APPS, "catalog"]

ROOT_URLCONF = "catalog_project.urls"
WSGI_APPLICATION = "catalog_project.wsgi.application"

DATABASES = {"default": database_config("catalog")}

GRAPHENE = {
    "SCHEMA": "catalog.schema.schema",
    "ATOMIC_MUTATIONS": True,
}

# Products at or below this quantity show up in the admin's low-stock list.
CATALOG_LOW_STOCK_THRESHOLD = env_int("CATALOG_LOW_STOCK_THRESHOLD", 5)
CATALOG_DEFAULT_CURRENCY = "USD"
