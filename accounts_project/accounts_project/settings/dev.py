"""Development: debug on, GraphiQL served at /graphql/, a signing key generated on first use."""

from .base import *  # noqa: F403

DEBUG = True
GRAPHIQL = True
ACCOUNTS_SIGNING_KEYS_AUTOCREATE = True
