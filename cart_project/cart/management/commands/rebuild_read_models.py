"""The shared `rebuild_read_models` (the SQL user replica), then the cart's product read model in its
Redis (cart.rebuild): the shared command alone left that one as it was."""

from __future__ import annotations

from typing import Any

from common.events.management.commands.rebuild_read_models import Command as SqlReadModels
from common.events.replay import RebuildInterrupted
from common.events.shutdown import stop_on_signals
from django.core.management.base import CommandError, CommandParser

from cart.rebuild import TOPIC, rebuild_product_read_model


class Command(SqlReadModels):
    help = "Rebuild the SQL read models (user replica) and the cart's product read model (Redis) from the topics."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--products-topic", default=TOPIC, help=f"Where the product events are (default {TOPIC}).")

    def handle(self, *args: Any, idle_seconds: float, allow_empty: bool, products_topic: str, **options: Any) -> None:
        super().handle(*args, idle_seconds=idle_seconds, allow_empty=allow_empty, **options)
        try:
            stats = rebuild_product_read_model(topic=products_topic, idle_seconds=idle_seconds, stop=stop_on_signals(),
                                               allow_empty=allow_empty)
        except RebuildInterrupted as exc:
            raise CommandError(str(exc))
        self.stdout.write(f"Rebuilt the product read model: {stats.products} products from {stats.records} records "
                          f"({stats.removed} unknown to the topic removed, {stats.malformed} malformed, "
                          f"{stats.attempts} attempt(s)).")
