"""The body of every service's manage.py: `from common.manage import main; main("<project>.settings.dev")`."""

from __future__ import annotations

import os
import sys

from common.settings import MissingSetting


def main(default_settings: str, argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", default_settings)
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(argv or sys.argv)
    except MissingSetting as error:  # a missing environment variable: one line, not a traceback
        sys.exit(f"{os.environ['DJANGO_SETTINGS_MODULE']}: {error}")
