"""Read-only views of the outbox and the processed-events table, for operators."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from common.events.models import OutboxEvent, ProcessedEvent
from common.read_only_admin import ReadOnlyAdmin


class PendingFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("pending", "Pending"), ("sent", "Sent")]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value() == "pending":
            return queryset.filter(sent_at__isnull=True)
        if self.value() == "sent":
            return queryset.filter(sent_at__isnull=False)
        return queryset


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "event_type", "aggregate_id", "occurred_at", "sent_at")
    list_filter = (PendingFilter, "topic")
    search_fields = ("aggregate_id", "=event_id", "=correlation_id")
    ordering = ("-id",)
    show_full_result_count = False


@admin.register(ProcessedEvent)
class ProcessedEventAdmin(ReadOnlyAdmin):
    list_display = ("event_id", "event_type", "handler", "processed_at")
    search_fields = ("=event_id",)
    ordering = ("-processed_at",)
    show_full_result_count = False
