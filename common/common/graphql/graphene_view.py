"""The Django view that serves a graphene (code-first) schema with the shared error policy."""

from __future__ import annotations

from typing import Any

from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from graphene_django.views import GraphQLView, HttpError

from common.graphql.errors import BAD_REQUEST, format_error


@method_decorator(csrf_exempt, name="dispatch")
class GrapheneView(GraphQLView):
    """API clients send bearer tokens, not cookies, so CSRF does not apply here."""

    @staticmethod
    def format_error(error: Exception) -> dict[str, Any]:
        if isinstance(error, HttpError):
            return {"message": error.message, "extensions": {"code": BAD_REQUEST}}
        return format_error(error)
