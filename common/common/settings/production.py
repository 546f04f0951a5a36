"""Production settings every service shares. A service's settings/prod.py star-imports its base
settings, then this module, then adds what is its own.

Secrets come from the environment; nothing here falls back to a development value.
"""

from __future__ import annotations

import os

from common.settings import env_bool, env_list, env_required, env_str

DEBUG = False
GRAPHIQL = False

SECRET_KEY = env_required("DJANGO_SECRET_KEY", "production settings need a secret key (`manage_all.py up --prod` makes one)")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])

SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
# TLS ends at the load balancer in front of the gateway and admin; it says so in this header.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# `collectstatic` writes here; WhiteNoise serves it (compressed, with hashed names) under gunicorn.
STATIC_ROOT = env_str("DJANGO_STATIC_ROOT", os.path.join(os.getcwd(), "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
