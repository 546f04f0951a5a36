"""The Django admin of every service, saying which service it is.

Services install `common.admin_site.ServiceAdminConfig` in place of `django.contrib.admin`
(`common.settings.defaults.SHARED_APPS` does): the default admin site is then a
`ServiceAdminSite`, whose header and title name the service (`ADMIN_SITE_NAME`, default
`SERVICE_NAME` capitalised). A signed-in staff member who may see nothing in this service is told
so, with what their roles allow in the other services, instead of an empty index.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.functional import cached_property
from django.utils.module_loading import import_string


def service_label() -> str:
    name = getattr(settings, "ADMIN_SITE_NAME", "") or getattr(settings, "SERVICE_NAME", "") or "Service"
    return name[:1].upper() + name[1:]


def default_grants(user: Any) -> Iterable[str]:
    """Permission strings of every service the user holds (the replica user keeps them in `permissions`)."""
    return getattr(user, "permissions", None) or ()


def _roles(user: Any) -> list[str]:
    roles = getattr(user, "roles", None)
    if roles is None:
        roles = [group.name for group in user.groups.all()]
    return sorted(roles)


def nothing_here_message(user: Any) -> str:
    """What a staff member without permissions in this service is told on its admin index."""
    grants_of = import_string(getattr(settings, "ADMIN_USER_GRANTS", "common.admin_site.default_grants"))
    by_service: dict[str, list[str]] = defaultdict(list)
    for perm in sorted(set(grants_of(user))):
        service, _, codename = perm.partition(".")
        by_service[service].append(codename)
    own = getattr(settings, "SERVICE_NAME", "")
    elsewhere = {service: codes for service, codes in by_service.items() if service != own}
    roles = ", ".join(_roles(user)) or "none"
    text = (
        f"This is the {service_label()} service's admin. You are signed in as {user.get_username()} "
        f"(roles: {roles}), and your roles give you nothing to see or change here."
    )
    if elsewhere:
        listed = "; ".join(f"{service}: {', '.join(codes)}" for service, codes in sorted(elsewhere.items()))
        text += f" What they allow is managed in the admin of those services — {listed}."
    return text


class ServiceAdminSite(AdminSite):
    @cached_property
    def site_header(self) -> str:  # type: ignore[override]
        return f"{service_label()} service administration"

    @cached_property
    def site_title(self) -> str:  # type: ignore[override]
        return f"{service_label()} admin"

    @cached_property
    def index_title(self) -> str:  # type: ignore[override]
        return f"{service_label()} service"

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        if request.user.is_authenticated and not self.get_app_list(request):
            messages.info(request, nothing_here_message(request.user))
        return super().index(request, extra_context)


class ServiceAdminConfig(AdminConfig):
    default_site = "common.admin_site.ServiceAdminSite"
