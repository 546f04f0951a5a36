"""Local replica of accounts users (the CQRS read model), fed only by `accounts.user.*` events.

Installed by every service except accounts, with `AUTH_USER_MODEL = "replica.User"`: Django
admin, sessions and django-guardian need local user rows, and the primary key is the accounts
user id (the token's `sub`), so no id mapping is ever needed.
"""
