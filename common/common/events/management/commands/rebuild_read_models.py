"""Empty the read models and replay the consumed topics from the beginning into them."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.events.replay import RebuildInterrupted, rebuild_read_models
from common.events.shutdown import stop_on_signals


class Command(BaseCommand):
    help = "Rebuild every read model (handlers with a reset) by replaying EVENTS_CONSUME_TOPICS from the start."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--idle-seconds", type=float, default=3.0, help="The replay ends after this long without a new record."
        )
        parser.add_argument(
            "--allow-empty",
            action="store_true",
            help="Commit even if the replay finds no event for read models that had processed some.",
        )

    def handle(self, *args: Any, idle_seconds: float, allow_empty: bool, **options: Any) -> None:
        try:
            stats = rebuild_read_models(idle_seconds=idle_seconds, stop=stop_on_signals(), allow_empty=allow_empty)
        except RebuildInterrupted as exc:
            raise CommandError(str(exc))
        if not stats.read_models:
            self.stdout.write("No read models: no handler declares a reset.")
            return
        self.stdout.write(
            f"Rebuilt {', '.join(stats.read_models)}: {stats.records} records, {stats.applied} applied, "
            f"{stats.duplicates} duplicates, {stats.malformed} malformed, {stats.failed} failed."
        )
        if stats.failed:
            self.stderr.write(f"{stats.failed} event(s) failed and were skipped; see the log and the dead-letter topics.")
