"""Demo users, one per role, with known passwords (development and demos only)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from accounts import commands
from accounts.models import User

# email, password, full name, roles, staff, superuser
DEMO_USERS = [
    ("admin@example.com", "Admin-demo-pass-1", "Ada Admin", ["admin"], True, True),
    ("catalog.manager@example.com", "Catalog-demo-pass-1", "Cat Manager", ["catalog_manager"], True, False),
    ("order.manager@example.com", "Orders-demo-pass-1", "Otto Orders", ["order_manager"], True, False),
    ("customer@example.com", "Customer-demo-pass-1", "Casey Customer", ["customer"], False, False),
]


class Command(BaseCommand):
    help = "Create one demo user per role (admin, catalog_manager, order_manager, customer) and print the credentials."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when any user exists.")

    def handle(self, *args: Any, if_empty: bool, **options: Any) -> None:
        if if_empty and User.objects.exists():
            self.stdout.write("Accounts already has users; not seeding.")
            return
        created = 0
        with transaction.atomic():
            for email, password, name, roles, staff, superuser in DEMO_USERS:
                if User.objects.filter(email=email).exists():
                    continue
                user = User.objects.create_user(
                    email=email, password=password, full_name=name, is_staff=staff, is_superuser=superuser
                )
                user.groups.set(Group.objects.filter(name__in=roles))
                commands.record_user_registered(user_id=str(user.pk))
                created += 1
        self.stdout.write(f"Seeded {created} demo users. Sign in with (email / password, roles):")
        for email, password, _, roles, staff, _ in DEMO_USERS:
            admin = ", Django admin" if staff else ""
            self.stdout.write(f"  {email:<30} {password:<22} {', '.join(roles)}{admin}")
