"""The Django view that serves a graphene (code-first) schema with the shared error policy,
the per-process document cache, the result cache (common.cache.results), and the shared
request limits and input rules (common.graphql.limits, common.graphql.inputs)."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponseBadRequest, HttpResponseNotAllowed
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from graphene_django.settings import graphene_settings
from graphene_django.views import MUTATION_ERRORS_FLAG, GraphQLView, HttpError
from graphql import ExecutionResult, OperationType, execute, validate_schema

from common.cache import dependencies, results
from common.graphiql import TEMPLATE as GRAPHIQL_TEMPLATE
from common.graphql.documents import prepare, request_errors, root_fields
from common.graphql.errors import bad_request, format_error
from common.graphql.federation import harden_federation
from common.graphql.inputs import harden_scalars, malformed_body_errors, request_problem
from common.graphql.limits import register_sdl

_HAD_ERRORS = "_graphql_had_errors"


@method_decorator(csrf_exempt, name="dispatch")
class GrapheneView(GraphQLView):
    """API clients send bearer tokens, not cookies, so CSRF does not apply here."""

    graphiql_template = GRAPHIQL_TEMPLATE  # GraphiQL's assets from this service, not a CDN

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        graphql_schema = self.schema.graphql_schema
        if not getattr(graphql_schema, "_common_limits_ready", False):
            harden_scalars(graphql_schema)
            harden_federation(graphql_schema)
            register_sdl(graphql_schema, str(self.schema))  # @listSize lives only in the printed SDL
            graphql_schema._common_limits_ready = True  # type: ignore[attr-defined]

    def parse_body(self, request: HttpRequest) -> Any:
        try:
            return super().parse_body(request)
        except RecursionError:
            raise HttpError(HttpResponseBadRequest("JSON nested too deeply.")) from None
        except malformed_body_errors():
            raise HttpError(HttpResponseBadRequest("Malformed request body.")) from None

    def get_graphql_params(self, request: HttpRequest, data: Any) -> tuple[Any, Any, Any, Any]:  # type: ignore[override]
        query, variables, operation_name, id_ = GraphQLView.get_graphql_params(request, data)
        if query is not None:  # no query at all is graphene's "Must provide query string."
            problem = request_problem({"query": query, "variables": variables, "operationName": operation_name})
            if problem:
                raise HttpError(HttpResponseBadRequest(problem))
        return query, variables, operation_name, id_

    @staticmethod
    def format_error(error: Exception) -> dict[str, Any]:
        if isinstance(error, HttpError):
            return bad_request(error.message)
        return format_error(error)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        # graphene-django's dispatch is wrapped in ensure_csrf_cookie (for GraphiQL's page). This API
        # is csrf_exempt, so API responses skip it: minting the masked token was a third of the CPU
        # of an answer from the result cache.
        if request.method == "GET" and self.graphiql:
            return super().dispatch(request, *args, **kwargs)
        undecorated = getattr(GraphQLView.dispatch, "__wrapped__", None)
        if undecorated is None:  # a graphene-django without the decorator
            return super().dispatch(request, *args, **kwargs)
        return undecorated(self, request, *args, **kwargs)

    def _prepared(self, query: str) -> Any:
        return prepare(self.schema.graphql_schema, query, self.validation_rules, graphene_settings.MAX_VALIDATION_ERRORS)

    def get_response(self, request: HttpRequest, data: Any, show_graphiql: bool = False) -> tuple[Any, int]:
        """Serve a cached answer when one is still valid; otherwise execute and maybe keep it."""
        if show_graphiql or self.batch or request.GET.get("pretty") or not results.result_cache_enabled():
            return super().get_response(request, data, show_graphiql)
        query, variables, operation_name, _ = self.get_graphql_params(request, data)
        operation = self._prepared(query).operation(operation_name) if query else None
        scope = results.scope_for(request) if operation is not None else None
        if operation is None or operation.operation != OperationType.QUERY or scope is None:
            return super().get_response(request, data, show_graphiql)
        kind = root_fields(operation)
        digest = results.request_digest(query, variables, operation_name)
        body = results.lookup(scope, digest, kind)
        if body is not None:
            return body, 200
        with dependencies.recording() as recording:
            body, status = super().get_response(request, data, show_graphiql)
        if status == 200 and body is not None and not getattr(request, _HAD_ERRORS, True):
            results.store(scope, digest, kind, body, recording)
        return body, status

    def execute_graphql_request(
        self,
        request: HttpRequest,
        data: Any,
        query: str | None,
        variables: Any,
        operation_name: str | None,
        show_graphiql: bool = False,
    ) -> ExecutionResult | None:
        result = self._execute(request, query, variables, operation_name, show_graphiql)
        setattr(request, _HAD_ERRORS, bool(result is None or result.errors))
        return result

    def _execute(
        self, request: HttpRequest, query: str | None, variables: Any, operation_name: str | None, show_graphiql: bool
    ) -> ExecutionResult | None:
        # graphene-django's own flow, with parse + validate served from the document cache.
        if not query:
            if show_graphiql:
                return None
            raise HttpError(HttpResponseBadRequest("Must provide query string."))
        schema = self.schema.graphql_schema
        schema_errors = validate_schema(schema)  # computed once, then cached by graphql-core
        if schema_errors:
            return ExecutionResult(data=None, errors=schema_errors)
        prepared = self._prepared(query)
        if prepared.document is None:
            return ExecutionResult(errors=list(prepared.errors))
        operation = prepared.operation(operation_name)
        if request.method.lower() == "get" and operation is not None and operation.operation != OperationType.QUERY:
            if show_graphiql:
                return None
            raise HttpError(
                HttpResponseNotAllowed(["POST"], f"Can only perform a {operation.operation.value} operation from a POST request.")
            )
        if prepared.errors:
            return ExecutionResult(data=None, errors=list(prepared.errors))
        refused = request_errors(schema, prepared.document, operation_name, variables)
        if refused:
            return ExecutionResult(data=None, errors=refused)
        try:
            options: dict[str, Any] = {
                "root_value": self.get_root_value(request),
                "context_value": self.get_context(request),
                "variable_values": variables,
                "operation_name": operation_name,
                "middleware": self.get_middleware(request),
            }
            if self.execution_context_class:
                options["execution_context_class"] = self.execution_context_class
            atomic = graphene_settings.ATOMIC_MUTATIONS is True or connection.settings_dict.get("ATOMIC_MUTATIONS") is True
            if operation is not None and operation.operation == OperationType.MUTATION and atomic:
                # A mutation that returns errors is rolled back as a whole: nothing half-written.
                with transaction.atomic():
                    result = execute(schema, prepared.document, **options)
                    if getattr(request, MUTATION_ERRORS_FLAG, False) is True:
                        transaction.set_rollback(True)
                return result
            return execute(schema, prepared.document, **options)
        except Exception as exc:
            return ExecutionResult(errors=[exc])
