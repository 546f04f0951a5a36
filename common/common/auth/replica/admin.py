"""Replica users are shown, not edited: accounts is the only place users and roles change."""

from __future__ import annotations

from django.contrib import admin

from common.auth.replica.models import User
from common.read_only_admin import ReadOnlyAdmin


@admin.register(User)
class ReplicaUserAdmin(ReadOnlyAdmin):
    list_display = ("email", "is_active", "is_staff", "is_superuser", "roles", "synced_at")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("email", "id")
    ordering = ("email",)
    fields = ("id", "email", "is_active", "is_staff", "is_superuser", "roles", "permissions", "groups", "synced_at", "last_login")
    readonly_fields = fields
