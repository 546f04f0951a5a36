#!/usr/bin/env python
"""Django's command-line utility for the cart service."""

from common.manage import main

if __name__ == "__main__":
    main("cart_project.settings.dev")
