from common.auth.views import admin_sso_urls
from common.cache.metrics import cache_health
from common.graphql.execution import SyncExecutionContext
from common.graphql.graphene_view import GrapheneView
from common.health import database_check, health_view
from common.observability.metrics import metrics_view
from django.conf import settings
from django.contrib import admin
from django.urls import path

urlpatterns = [
    *admin_sso_urls(),
    path("admin/", admin.site.urls),
    # Every catalog resolver is synchronous: skip graphql-core's awaitable checks (docs/performance.md).
    path("graphql/", GrapheneView.as_view(graphiql=getattr(settings, "GRAPHIQL", False),
                                          execution_context_class=SyncExecutionContext)),
    path("health/", health_view("catalog", {"database": database_check()}, info={"cache": cache_health})),
    path("metrics/", metrics_view),
]
