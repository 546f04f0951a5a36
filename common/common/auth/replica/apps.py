from django.apps import AppConfig


class ReplicaConfig(AppConfig):
    name = "common.auth.replica"
    label = "replica"
    verbose_name = "Users (replica of accounts)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from common.auth.backends import remember_accounts_session

        user_logged_in.connect(remember_accounts_session, dispatch_uid="common.auth.remember_accounts_session")
