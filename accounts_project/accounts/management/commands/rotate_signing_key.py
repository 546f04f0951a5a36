"""Rotate the JWT signing key: a new key signs from now on; the old one stays published in the
JWKS (and keeps verifying) until the longest-lived token it signed has expired."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.keys import DirectoryKeyring, keyring, max_token_lifetime


class Command(BaseCommand):
    help = "Create a new active signing key (the first one, or a rotation); prune keys no token can still use."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--if-missing", action="store_true",
                            help="provision the first key only: do nothing when a key is already active "
                                 "(safe to run on every deployment or start-up)")

    def handle(self, *args: Any, **options: Any) -> None:
        ring = keyring()
        if not isinstance(ring, DirectoryKeyring):
            if options["if_missing"]:  # a configured PEM is a key already: nothing to provision
                self.stdout.write("ACCOUNTS_SIGNING_KEY_PEM is set: nothing to do.")
                return
            raise CommandError(
                "ACCOUNTS_SIGNING_KEY_PEM is set: rotate by deploying a new PEM and listing the old one "
                "in ACCOUNTS_PREVIOUS_SIGNING_KEYS_FILES."
            )
        key = ring.rotate(only_if_empty=options["if_missing"])
        if key is None:
            self.stdout.write(f"A signing key is already active in {ring.path}: nothing to do.")
            return
        published = ", ".join(k.kid for k in ring.published())
        self.stdout.write(f"New signing key {key.kid} in {ring.path}.")
        self.stdout.write(f"Published keys: {published} (retired keys stay {max_token_lifetime()} s).")
