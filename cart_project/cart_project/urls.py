from cart.health import redis_check
from cart.metrics import metrics_view
from cart.schema import schema
from common.auth.views import admin_sso_urls
from common.graphql.ariadne_view import ariadne_view
from common.health import database_check, health_view
from django.conf import settings
from django.contrib import admin
from django.urls import path

urlpatterns = [
    *admin_sso_urls(),
    path("admin/", admin.site.urls),
    path("graphql/", ariadne_view(schema, explorer=getattr(settings, "GRAPHIQL", False), title="Cart")),
    path("health/", health_view("cart", {"database": database_check(), "cart_redis": redis_check})),
    path("metrics/", metrics_view),
]
