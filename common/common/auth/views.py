"""`/admin/sso/`: sign in to this service's Django admin with an accounts access token.

POST the token (form field `token`, or `Authorization: Bearer ...`) and an optional `next`
path; the staff member lands in the admin without typing a password again. The admin login
form itself also accepts accounts credentials (see common.auth.backends).
"""

from __future__ import annotations

from django.contrib.auth import authenticate, login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from common.auth.middleware import bearer_token
from common.auth.tokens import InvalidToken

BACKEND = "common.auth.backends.AccountsBackend"


@method_decorator(csrf_exempt, name="dispatch")  # the token itself is the proof; it comes from another origin
class AdminTokenLoginView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        token = request.POST.get("token", "")
        if not token and "Authorization" in request.headers:
            try:
                token = bearer_token(request.headers["Authorization"])
            except InvalidToken:
                token = ""
        user = authenticate(request, token=token) if token else None
        if user is None:
            return HttpResponse("Sign-in failed: the accounts token is not valid.", status=401, content_type="text/plain")
        if not user.is_staff:
            return HttpResponse("Only staff may use the admin.", status=403, content_type="text/plain")
        login(request, user, backend=BACKEND)
        next_url = request.POST.get("next") or request.GET.get("next") or ""
        if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
            next_url = reverse("admin:index")
        return HttpResponseRedirect(next_url)


def admin_sso_urls() -> list:
    """Add to a service's urlpatterns *before* `admin/`: `*admin_sso_urls()`."""
    return [path("admin/sso/", AdminTokenLoginView.as_view(), name="admin-sso")]
