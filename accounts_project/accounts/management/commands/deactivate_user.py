"""Deactivate (or reactivate) a user by email: same command path as the admin (registry, sessions, event)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import commands
from accounts.models import User, normalize_email


class Command(BaseCommand):
    help = "Deactivate a user: every service rejects their tokens at once and all their sessions end."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--reactivate", action="store_true", help="Make the user active again instead.")

    def handle(self, *args: Any, email: str, reactivate: bool, **options: Any) -> None:
        user = User.objects.filter(email=normalize_email(email)).first()
        if user is None:
            raise CommandError(f"No user with email {email!r}.")
        if reactivate:
            commands.reactivate_user(user_id=str(user.pk))
            self.stdout.write(f"{user.email} is active.")
        else:
            commands.deactivate_user(user_id=str(user.pk))
            self.stdout.write(f"{user.email} is inactive; all sessions ended.")
