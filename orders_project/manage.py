#!/usr/bin/env python
"""Django's command-line utility for the orders service."""

from common.manage import main

if __name__ == "__main__":
    main("orders_project.settings.dev")
