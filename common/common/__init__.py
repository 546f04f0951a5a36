"""Shared code for every service of the catalog platform.

Services import from here; this package never imports a service.
"""
