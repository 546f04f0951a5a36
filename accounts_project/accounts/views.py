"""`/.well-known/jwks.json`: the public keys every service verifies tokens with."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from accounts.keys import jwks


@require_GET
def jwks_view(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(jwks())
    # Verifiers cache briefly and refetch on an unknown kid, so a rotation is picked up at once.
    response["Cache-Control"] = "public, max-age=60"
    return response
