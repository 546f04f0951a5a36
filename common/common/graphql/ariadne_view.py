"""The Django view that serves an ariadne (schema-first) schema with the shared error policy.

    path("graphql/", ariadne_view(schema, explorer=settings.GRAPHIQL, context_value=build_context))

- errors go through `common.graphql.errors.format_error` (client errors keep `extensions.code`,
  anything unexpected is masked as INTERNAL_SERVER_ERROR, never a stack trace);
- malformed HTTP bodies answer a JSON GraphQL error with code BAD_REQUEST, like the graphene view;
- CSRF-exempt: API clients authenticate with bearer tokens, not cookies (a service that also
  accepts cookie sessions must check CSRF itself for those requests);
- GET serves GraphiQL only when `explorer` is on (development); otherwise 405.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

from ariadne.exceptions import HttpBadRequestError
from ariadne.graphql import graphql_sync
from ariadne_django.views import GraphQLView
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from graphql import GraphQLError, GraphQLSchema

from common.graphiql import render_graphiql
from common.graphql.errors import bad_request as bad_request_error
from common.graphql.errors import format_error


def ariadne_error_formatter(error: GraphQLError, debug: bool = False) -> dict[str, Any]:
    # `debug` is deliberately ignored: stack traces never reach clients, even in development.
    return format_error(error)


class _AlreadyLogged(logging.LoggerAdapter):  # type: ignore[type-arg]
    """ariadne logs every error with a traceback, client errors included; format_error already logs
    the unexpected ones (once), so ariadne's own error log is dropped."""

    def error(self, *args: Any, **kwargs: Any) -> None:
        return None


def bad_request(message: str) -> JsonResponse:
    return JsonResponse({"errors": [bad_request_error(message)]}, status=400)


# Re-applied here: overriding dispatch() drops the csrf_exempt mark the parent class put on it.
@method_decorator(csrf_exempt, name="dispatch")
class AriadneView(GraphQLView):
    explorer: bool = False
    explorer_title: str = "GraphiQL"
    error_formatter = staticmethod(ariadne_error_formatter)
    logger = _AlreadyLogged(logging.getLogger("common.graphql"), {})

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().dispatch(request, *args, **kwargs)
        except HttpBadRequestError as error:
            return bad_request(error.message)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not self.explorer:
            return HttpResponseNotAllowed(["POST"])
        return render_graphiql(request, title=self.explorer_title)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            data = self.extract_data_from_request(request)
        except HttpBadRequestError as error:
            return bad_request(error.message)
        success, result = graphql_sync(cast(GraphQLSchema, self.schema), data, **self.get_kwargs_graphql(request))
        return JsonResponse(result, status=200 if success else 400)


def ariadne_view(
    schema: GraphQLSchema,
    *,
    explorer: bool = False,
    context_value: Callable[[HttpRequest], Any] | None = None,
    title: str = "GraphiQL",
) -> Callable[..., HttpResponse]:
    """A ready view function; `context_value(request)` builds each request's context (default {"request": ...})."""
    return AriadneView.as_view(schema=schema, explorer=explorer, context_value=context_value, explorer_title=title)
