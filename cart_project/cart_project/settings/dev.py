"""Development: debug on, GraphiQL served at /graphql/."""

from .base import *  # noqa: F403

DEBUG = True
GRAPHIQL = True
