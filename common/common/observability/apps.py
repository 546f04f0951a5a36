from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "common.observability"
    label = "observability"
    verbose_name = "Observability (traces and metrics)"

    def ready(self) -> None:
        from django.conf import settings

        from common.observability import tracing

        # Before the WSGI handler loads its middleware: the Django instrumentation inserts its own.
        tracing.configure(getattr(settings, "SERVICE_NAME", "") or "service")
