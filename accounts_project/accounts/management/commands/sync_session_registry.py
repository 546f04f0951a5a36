"""Rebuild the shared Redis registry from PostgreSQL (after a Redis flush or restore):
live sessions are reopened with their remaining lifetime, inactive users are marked inactive."""

from __future__ import annotations

from typing import Any

from common.auth import registry
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Session, User


class Command(BaseCommand):
    help = "Mirror live sessions and inactive users from the database into the auth registry."

    def handle(self, *args: Any, **options: Any) -> None:
        sessions = 0
        for session_id in Session.objects.alive().filter(user__is_active=True).values_list("pk", flat=True).iterator():
            # Under the row lock, like every command that ends a session: never resurrects one ended meanwhile.
            with transaction.atomic():
                session = Session.objects.select_for_update().filter(pk=session_id).first()
                if session is None or not session.is_alive:
                    continue
                registry.open_session(
                    session_id=str(session.pk), user_id=str(session.user_id), ttl_seconds=session.seconds_left()
                )
                sessions += 1
        inactive = 0
        for user_id in User.objects.filter(is_active=False).values_list("pk", flat=True).iterator():
            registry.set_user_active(user_id=str(user_id), active=False)
            inactive += 1
        self.stdout.write(f"Registry: {sessions} live sessions reopened, {inactive} inactive users marked.")
