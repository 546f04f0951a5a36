from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class EventsConfig(AppConfig):
    name = "common.events"
    label = "events"
    verbose_name = "Events (outbox and processed events)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from common.events import bridge

        bridge.connect_migration_signals()
        # Each app declares what it reacts to in `<app>/handlers.py`; importing registers the handlers.
        autodiscover_modules("handlers")
