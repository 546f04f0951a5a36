"""Bridge model writes to the outbox, so every change of a bridged model produces its event.

A model is bridged once (`publish_model_events`); from then on every `save()` and `delete()`
records `created`/`updated`/`deleted` with the row's new state in the same transaction, whoever
makes the change: a command behind GraphQL, the Django admin, `manage.py shell` or a data
migration (while `migrate` runs, historical models are matched by label and bridged too).
Many-to-many fields named in `ModelEvents.m2m_fields` are part of the state: changing them
records `updated` too.

The bridge records **model-state events only**. A command that decides something (a stock
adjustment, a deactivation) records that domain event itself with `record_event(...)`, next to
the plain model-state event its save produces.

Writes that send no signals are closed off by `BridgedQuerySet` (use it as the manager):
`bulk_create()` / `bulk_update()` record their events in one batched outbox INSERT,
`update_with_events()` locks, updates and records each row, and plain `update()` is refused
with an error pointing there. Raw SQL cannot be caught: never write bridged tables with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import models, router, transaction
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save, pre_migrate
from django.dispatch import Signal

from common.events.outbox import NewEvent, record_event, record_events

logger = logging.getLogger(__name__)

# Sent after a bulk write recorded its events (in the transaction): `sender` is the model,
# `instances` the rows, `kind` "created" or "updated". For side effects that usually hang on
# post_save (cache invalidation), which bulk writes do not send.
bulk_recorded = Signal()


class EventlessWrite(RuntimeError):
    """A write on a bridged model that would record no event (QuerySet.update and friends)."""


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
    # A save(update_fields=...) touching only these fields records nothing (e.g. `last_login`).
    quiet_fields: frozenset[str] = field(default_factory=frozenset)
    # Many-to-many fields that are part of the published state: add/remove/clear records `updated`.
    m2m_fields: tuple[str, ...] = ()


_bridged: dict[str, ModelEvents] = {}
_m2m_owner: dict[type[models.Model], type[models.Model]] = {}


def publish_model_events(model_label: str, events: ModelEvents) -> None:
    """Bridge the model `app_label.model_name` (e.g. "catalog.product") to the outbox (call from AppConfig.ready)."""
    model = apps.get_model(model_label)
    _bridged[model._meta.label_lower] = events
    # Receivers per model (not global): a global receiver would turn off Django's fast deletes everywhere.
    post_save.connect(_on_save, sender=model, dispatch_uid=f"events.bridge.save.{model._meta.label_lower}")
    post_delete.connect(_on_delete, sender=model, dispatch_uid=f"events.bridge.delete.{model._meta.label_lower}")
    for name in events.m2m_fields:
        through = getattr(model, name).through
        m2m_changed.connect(_on_m2m, sender=through, dispatch_uid=f"events.bridge.m2m.{model._meta.label_lower}.{name}")
        _m2m_owner[through] = model


def bridged_topics() -> set[str]:
    return {events.topic for events in _bridged.values()}


def events_of(model: type[models.Model]) -> ModelEvents:
    try:
        return _bridged[model._meta.label_lower]
    except KeyError:
        raise LookupError(f"{model._meta.label} is not bridged (publish_model_events)") from None


def record_model_events(instances: Sequence[models.Model], kind: str) -> None:
    """Record `kind` ("created", "updated" or "deleted") for each instance in one outbox INSERT.

    The bulk API of the bridge: `BridgedQuerySet` calls it after bulk writes; call it yourself
    after a write the signals cannot see. Must run in the transaction of the write.
    """
    if not instances:
        return
    events = events_of(type(instances[0]))
    event_type = {"created": events.created, "updated": events.updated, "deleted": events.deleted}[kind]
    record_events(
        NewEvent(events.topic, event_type, events.aggregate_id(instance), events.payload(instance)) for instance in instances
    )
    bulk_recorded.send(sender=type(instances[0]), instances=list(instances), kind=kind)


class BridgedQuerySet(models.QuerySet):
    """QuerySet (use `.as_manager()`) of a bridged model: no write leaves it without its events."""

    def bulk_create(self, objs: Iterable[models.Model], *args: Any, **kwargs: Any) -> list[models.Model]:
        if kwargs.get("ignore_conflicts") or kwargs.get("update_conflicts"):
            raise EventlessWrite(
                f"{self.model._meta.label}.bulk_create(ignore_conflicts/update_conflicts) cannot tell which rows it "
                "wrote, so it cannot record their events: filter out existing rows first."
            )
        with transaction.atomic(using=self.db, savepoint=False):
            created = super().bulk_create(objs, *args, **kwargs)
            record_model_events(created, "created")
        return created

    def bulk_update(self, objs: Iterable[models.Model], fields: Sequence[str], *args: Any, **kwargs: Any) -> int:
        objs = list(objs)
        with transaction.atomic(using=self.db, savepoint=False):
            # Django's bulk_update runs QuerySet.update(): do it on the plain base manager.
            count = self.model._base_manager.using(self.db).bulk_update(objs, fields, *args, **kwargs)
            record_model_events(objs, "updated")
        return count

    def update(self, **kwargs: Any) -> int:
        raise EventlessWrite(
            f"{self.model._meta.label}: QuerySet.update() sends no signals, so it would record no "
            f"{events_of(self.model).topic} events. Use .update_with_events(...), save() each row, "
            "or the service's command (see docs/events.md)."
        )

    update.alters_data = True  # type: ignore[attr-defined]

    def update_with_events(self, **kwargs: Any) -> int:
        """`update(**kwargs)` that also records `updated` for each row: locks the rows, updates them,
        reloads them and records their events in one INSERT."""
        with transaction.atomic(using=self.db, savepoint=False):
            pks = list(self.select_for_update().order_by("pk").values_list("pk", flat=True))
            if not pks:
                return 0
            count = models.QuerySet.update(self.filter(pk__in=pks), **kwargs)
            rows = list(self.model._base_manager.using(self.db).filter(pk__in=pks).order_by("pk"))
            record_model_events(rows, "updated")
        return count


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


def _record(instance: models.Model, events: ModelEvents, event_type: str) -> None:
    using = instance._state.db or "default"
    if not transaction.get_connection(using).in_atomic_block:
        # Only reachable for models without TransactionalSaveMixin: the change is committed
        # already, so the event gets its own transaction (a crash in between would lose it).
        logger.warning("%s saved outside a transaction; recording %s separately", instance._meta.label, event_type)
        with transaction.atomic(using=using):
            _append(instance, events, event_type)
        return
    _append(instance, events, event_type)


def _append(instance: models.Model, events: ModelEvents, event_type: str) -> None:
    record_event(
        topic=events.topic,
        event_type=event_type,
        aggregate_id=events.aggregate_id(instance),
        payload=events.payload(instance),
    )


def _on_save(
    sender: type[models.Model], instance: models.Model, created: bool, update_fields: Any = None, **kwargs: Any
) -> None:
    events = _bridged[sender._meta.label_lower]
    if not created and update_fields and events.quiet_fields.issuperset(update_fields):
        return
    _record(instance, events, events.created if created else events.updated)


def _on_m2m(sender: type[models.Model], instance: models.Model, action: str, reverse: bool, pk_set: Any, **kwargs: Any) -> None:
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    model = _m2m_owner[sender]
    events = _bridged[model._meta.label_lower]
    if not reverse:
        _record(instance, events, events.updated)
        return
    if not pk_set:  # a reverse clear() does not say which rows it touched: it is sent as pre_clear only
        return
    for owner in model._base_manager.filter(pk__in=pk_set).order_by("pk"):
        _record(owner, events, events.updated)


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
