from django.apps import AppConfig


class CartConfig(AppConfig):
    name = "cart"
    verbose_name = "Carts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from cart import handlers  # noqa: F401 - registers the event handlers
