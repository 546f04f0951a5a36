"""The Django view that serves an ariadne (schema-first) schema with the shared error policy.

    path("graphql/", ariadne_view(schema, explorer=settings.GRAPHIQL, context_value=build_context))

- errors go through `common.graphql.errors.format_error` (client errors keep `extensions.code`,
  anything unexpected is masked as INTERNAL_SERVER_ERROR, never a stack trace);
- malformed HTTP bodies answer a JSON GraphQL error with code BAD_REQUEST, like the graphene view;
- CSRF-exempt: API clients authenticate with bearer tokens, not cookies (a service that also
  accepts cookie sessions must check CSRF itself for those requests);
- GET serves GraphiQL only when `explorer` is on (development); otherwise 405;
- the shared request limits and input rules (common.graphql.limits, common.graphql.inputs) run
  before execution, with the parsed document kept in the per-process document cache.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

from ariadne.exceptions import HttpBadRequestError
from ariadne.graphql import graphql_sync
from ariadne.validation.introspection_disabled import IntrospectionDisabledRule
from ariadne_django.views import GraphQLView
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from graphql import GraphQLError, GraphQLSchema

from common.graphiql import render_graphiql
from common.graphql.documents import prepare, request_errors
from common.graphql.errors import bad_request as bad_request_error
from common.graphql.errors import format_error
from common.graphql.federation import harden_federation
from common.graphql.inputs import harden_scalars, malformed_body_errors, request_problem


def ariadne_error_formatter(error: GraphQLError, debug: bool = False) -> dict[str, Any]:
    # `debug` is deliberately ignored: stack traces never reach clients, even in development.
    return format_error(error)


class _AlreadyLogged(logging.LoggerAdapter):  # type: ignore[type-arg]
    """ariadne logs every error with a traceback, client errors included; format_error already logs
    the unexpected ones (once), so ariadne's own error log is dropped."""

    def error(self, *args: Any, **kwargs: Any) -> None:
        return None


def _already_validated(*args: Any, **kwargs: Any) -> list[GraphQLError]:
    return []  # `prepare` ran the spec rules, the limits and the input rules (cached per document)


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
        except RecursionError:
            return bad_request("JSON nested too deeply.")
        except malformed_body_errors():
            return bad_request("Malformed request body.")
        problem = request_problem(data)
        if problem:
            return bad_request(problem)
        schema = cast(GraphQLSchema, self.schema)
        if not getattr(schema, "_common_limits_ready", False):
            harden_scalars(schema)
            harden_federation(schema)
            schema._common_limits_ready = True  # type: ignore[attr-defined]
        extra_rules = () if self.introspection else (IntrospectionDisabledRule,)
        prepared = prepare(schema, data["query"], extra_rules)
        refused = list(prepared.errors)
        if prepared.document is not None and not refused:
            refused = request_errors(schema, prepared.document, data.get("operationName"), data.get("variables"))
        if refused:
            return JsonResponse({"errors": [format_error(error) for error in refused]}, status=400)
        options = self.get_kwargs_graphql(request)
        options["validation_rules"] = None
        success, result = graphql_sync(
            schema, data, query_document=prepared.document, query_validator=_already_validated, **options
        )
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
