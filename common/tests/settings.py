"""A minimal service for testing the common package: graphene and ariadne endpoints, the
user replica, guardian and an `ownership` app with owned objects."""

from common.auth.service_settings import *  # noqa: F403
from common.auth.service_settings import REPLICA_APPS, with_auth_middleware
from common.settings import database_config
from common.settings.defaults import *  # noqa: F403
from common.settings.defaults import GRAPHENE, MIDDLEWARE, SHARED_APPS

SERVICE_NAME = "common-tests"
INSTALLED_APPS = [*SHARED_APPS, *REPLICA_APPS, "common.events", "tests.ownership"]
EVENTS_CONSUME_TOPICS = ["accounts.user"]
MIDDLEWARE = with_auth_middleware(MIDDLEWARE)
ROOT_URLCONF = "tests.urls"
DATABASES = {"default": database_config("common_tests")}
GRAPHENE = {**GRAPHENE, "SCHEMA": "tests.schemas.graphene_schema"}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast tests; never in a service
