"""Production: secrets from the environment, no debug, no GraphiQL. Schema changes only via migrations."""

# Order matters: production values override the base ones.
# isort: off
from .base import *  # noqa: F403
from common.settings.production import *  # noqa: F403
# isort: on
