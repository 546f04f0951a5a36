from django.apps import AppConfig


class OwnershipConfig(AppConfig):
    name = "tests.ownership"
    label = "ownership"
    default_auto_field = "django.db.models.BigAutoField"
