#!/usr/bin/env python
"""Django's command-line utility for the catalog service."""

from common.manage import main

if __name__ == "__main__":
    main("catalog_project.settings.dev")
