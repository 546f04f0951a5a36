"""The replica in the Django admin (read-only) and its migrations."""

from __future__ import annotations

import pytest
from common.auth.replica.models import User
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_migrations_cover_every_model_change():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_replica_users_are_shown_read_only(admin_client, user_event, new_user_id):
    user_event("registered", new_user_id, email="shown@example.com", roles=["customer"], perms=[])
    listing = admin_client.get("/admin/replica/user/")
    assert listing.status_code == 200
    assert "shown@example.com" in listing.content.decode()
    page = admin_client.get(f"/admin/replica/user/{new_user_id}/change/")
    assert page.status_code == 200
    assert 'name="email"' not in page.content.decode()  # no editable fields
    assert admin_client.get("/admin/replica/user/add/").status_code == 403
    assert admin_client.post(f"/admin/replica/user/{new_user_id}/delete/", {"post": "yes"}).status_code == 403
    assert User.objects.filter(pk=new_user_id).exists()
