"""Replica users are shown, not edited: accounts is the only place users and roles change."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from common.auth.replica.models import User


@admin.register(User)
class ReplicaUserAdmin(admin.ModelAdmin):
    list_display = ("email", "is_active", "is_staff", "is_superuser", "roles", "synced_at")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("email", "id")
    ordering = ("email",)
    fields = ("id", "email", "is_active", "is_staff", "is_superuser", "roles", "permissions", "groups", "synced_at", "last_login")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
