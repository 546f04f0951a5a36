"""Apply the records of the dead-letter topics again, once the cause of their failure is fixed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.events.redrive import replay_dead_letters
from common.events.shutdown import stop_on_signals


class Command(BaseCommand):
    help = (
        "Re-drive <topic>.dlq for the consumed topics (or --topic): apply this consumer group's dead letters "
        "to the handlers again; idempotent, safe to run twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--topic", action="append", dest="topics", help="Original topic (repeatable); default: all consumed.")
        parser.add_argument("--group", help="Consumer group whose dead letters to replay (default: SERVICE_NAME).")
        parser.add_argument("--dry-run", action="store_true", help="Only count what would be replayed.")
        parser.add_argument("--idle-seconds", type=float, default=3.0, help="Stop after this long without a record.")

    def handle(self, *args: Any, topics: list[str] | None, group: str | None, dry_run: bool, idle_seconds: float,
               **options: Any) -> None:
        stats = replay_dead_letters(topic_names=topics, group_id=group, dry_run=dry_run, idle_seconds=idle_seconds,
                                    stop=stop_on_signals())
        verb = "would apply" if dry_run else "applied"
        self.stdout.write(
            f"{stats.records} dead letters: {stats.applied} {verb}, {stats.already_applied} already applied, "
            f"{stats.failed} failed again, {stats.held_back} held back behind a failure, "
            f"{stats.unreplayable} malformed (not replayable), {stats.other_groups} of other groups, "
            f"{stats.no_handler} without a handler."
        )
        for failure in stats.failures:
            self.stderr.write(f"  failed: {failure}")
        if stats.failed:
            raise CommandError(f"{stats.failed} dead letter(s) failed again; they stay in the dead-letter topic.")
