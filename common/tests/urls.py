from ariadne_django.views import GraphQLView as AriadneView
from common.auth.views import admin_sso_urls
from common.graphql.errors import format_error
from common.graphql.graphene_view import GrapheneView
from django.contrib import admin
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from tests.schemas import ariadne_schema

urlpatterns = [
    *admin_sso_urls(),
    path("admin/", admin.site.urls),
    path("graphql/", GrapheneView.as_view()),
    path(
        "ariadne/",
        csrf_exempt(AriadneView.as_view(schema=ariadne_schema, error_formatter=lambda error, debug=False: format_error(error))),
    ),
]
