#!/usr/bin/env python
"""Django's command-line utility for the accounts service."""

from common.manage import main

if __name__ == "__main__":
    main("accounts_project.settings.dev")
