"""Production: secrets from the environment, no debug, no GraphiQL. Schema changes only via migrations."""

from common.settings import env_list, env_str
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403

DEBUG = False
GRAPHIQL = False
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set in production.")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
STATIC_ROOT = env_str("DJANGO_STATIC_ROOT", "/var/lib/accounts/static")
# Production never invents a signing key: provision one (rotate_signing_key) or set ACCOUNTS_SIGNING_KEY_PEM.
ACCOUNTS_SIGNING_KEYS_AUTOCREATE = False
