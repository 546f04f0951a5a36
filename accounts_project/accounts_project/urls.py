from accounts.health import redis_check
from accounts.schema import context_for, schema
from accounts.views import jwks_view
from common.graphql.ariadne_view import ariadne_view
from common.health import database_check, health_view
from common.observability.metrics import metrics_view
from django.conf import settings
from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
    path(
        "graphql/",
        ariadne_view(schema, explorer=getattr(settings, "GRAPHIQL", False), context_value=context_for, title="Accounts"),
    ),
    path(".well-known/jwks.json", jwks_view, name="jwks"),
    path("health/", health_view("accounts", {"database": database_check(), "redis": redis_check})),
    path("metrics/", metrics_view),
]
