"""Bridge model saves and deletes to the outbox, so every change produces its event.

A model is bridged once (`publish_model_events`); from then on every `save()` and `delete()`
records `created`/`updated`/`deleted` in the same transaction, whoever makes the change:
a command behind GraphQL, the Django admin, `manage.py shell` or a data migration (while
`migrate` runs, historical models are matched by label and bridged too).

The model save path is the ONE place these events are recorded, so a command never records
them a second time. A command that knows more than "updated" says so before saving with
`describe_change()` (e.g. a stock adjustment with its delta): the same save then records the
richer event instead of the plain one.

Not covered (they send no signals): `QuerySet.update()`, `bulk_create()`, `bulk_update()` and raw
SQL on bridged models. Use model saves or commands for bridged models.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models, router, transaction
from django.db.models.signals import post_delete, post_migrate, post_save, pre_migrate

from common.events.outbox import record_event

logger = logging.getLogger(__name__)

_CHANGE_ATTRIBUTE = "_events_described_change"


@dataclass(frozen=True)
class ModelEvents:
    """How one model's changes become events. `payload` may only read concrete fields (it also
    runs on the historical models of data migrations)."""

    topic: str
    created: str
    updated: str
    deleted: str
    payload: Callable[[Any], dict[str, Any]]
    aggregate_id: Callable[[Any], str] = lambda instance: str(instance.pk)


_bridged: dict[str, ModelEvents] = {}


def publish_model_events(model_label: str, events: ModelEvents) -> None:
    """Bridge the model `app_label.model_name` (e.g. "catalog.product") to the outbox (call from AppConfig.ready)."""
    model = apps.get_model(model_label)
    _bridged[model._meta.label_lower] = events
    # Receivers per model (not global): a global receiver would turn off Django's fast deletes everywhere.
    post_save.connect(_on_save, sender=model, dispatch_uid=f"events.bridge.save.{model._meta.label_lower}")
    post_delete.connect(_on_delete, sender=model, dispatch_uid=f"events.bridge.delete.{model._meta.label_lower}")


def bridged_topics() -> set[str]:
    return {events.topic for events in _bridged.values()}


def describe_change(instance: models.Model, *, event_type: str, **details: Any) -> None:
    """Make the next save or delete of `instance` record `event_type` with `details` added to its payload."""
    setattr(instance, _CHANGE_ATTRIBUTE, (event_type, details))


class TransactionalSaveMixin(models.Model):
    """Runs save() in a transaction, so the bridged event commits with the change even in
    autocommit mode (`manage.py shell`). Django already runs deletes (and their signals) in one."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        if transaction.get_connection(using).in_atomic_block:
            super().save(*args, **kwargs)  # a command's transaction already: no savepoint needed
            return
        with transaction.atomic(using=using):
            super().save(*args, **kwargs)


def _record(instance: models.Model, events: ModelEvents, default_type: str) -> None:
    event_type, details = getattr(instance, _CHANGE_ATTRIBUTE, None) or (default_type, {})
    if hasattr(instance, _CHANGE_ATTRIBUTE):
        delattr(instance, _CHANGE_ATTRIBUTE)
    using = instance._state.db or "default"
    if not transaction.get_connection(using).in_atomic_block:
        # Only reachable for models without TransactionalSaveMixin: the change is committed
        # already, so the event gets its own transaction (a crash in between would lose it).
        logger.warning("%s saved outside a transaction; recording %s separately", instance._meta.label, event_type)
        with transaction.atomic(using=using):
            _append(instance, events, event_type, details)
        return
    _append(instance, events, event_type, details)


def _append(instance: models.Model, events: ModelEvents, event_type: str, details: dict[str, Any]) -> None:
    record_event(
        topic=events.topic,
        event_type=event_type,
        aggregate_id=events.aggregate_id(instance),
        payload={**events.payload(instance), **details},
    )


def _on_save(sender: type[models.Model], instance: models.Model, created: bool, **kwargs: Any) -> None:
    events = _bridged[sender._meta.label_lower]
    _record(instance, events, events.created if created else events.updated)


def _on_delete(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    events = _bridged[sender._meta.label_lower]
    _record(instance, events, events.deleted)


def _is_historical(sender: type[models.Model]) -> bool:
    label = sender._meta.label_lower
    return label in _bridged and sender is not apps.get_model(label)


def _on_historical_save(sender: type[models.Model], instance: models.Model, created: bool, **kwargs: Any) -> None:
    if _is_historical(sender):
        _on_save(sender, instance, created)


def _on_historical_delete(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    if _is_historical(sender):
        _on_delete(sender, instance)


def _start_migration_bridge(**kwargs: Any) -> None:
    post_save.connect(_on_historical_save, dispatch_uid="events.bridge.migrations.save")
    post_delete.connect(_on_historical_delete, dispatch_uid="events.bridge.migrations.delete")


def _stop_migration_bridge(**kwargs: Any) -> None:
    post_save.disconnect(dispatch_uid="events.bridge.migrations.save")
    post_delete.disconnect(dispatch_uid="events.bridge.migrations.delete")


def connect_migration_signals() -> None:
    """Data migrations save historical model classes: bridge them, by label, while `migrate` runs."""
    pre_migrate.connect(_start_migration_bridge, dispatch_uid="events.bridge.pre_migrate")
    post_migrate.connect(_stop_migration_bridge, dispatch_uid="events.bridge.post_migrate")
