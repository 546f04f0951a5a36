from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Catalog"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from catalog import (
            cache,  # noqa: F401 - connects the cache-invalidation signal receivers
            events,
        )

        events.register()
