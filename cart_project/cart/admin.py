"""Django admin for staff: look up a user's cart (by email or user id) in the cart's Redis. Read only.

Staff sign in with their accounts credentials (admin SSO); viewing needs `cart.view_cart`.
"""

from __future__ import annotations

import uuid
from typing import Any

from common.errors import ServiceUnavailable
from common.read_only_admin import ReadOnlyAdmin
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from cart import queries
from cart.model import is_anonymous_cart_id, user_cart_id
from cart.models import Cart


def find_cart_id(term: str) -> tuple[str | None, Any]:
    """(cart id, replica user) for an email, a user id, or an anonymous cart id."""
    term = term.strip()
    if is_anonymous_cart_id(term):
        return term, None
    try:
        user_id = str(uuid.UUID(term))
    except ValueError:
        user = get_user_model().objects.filter(email__iexact=term).first()
        return (user_cart_id(str(user.pk)), user) if user else (None, None)
    return user_cart_id(user_id), get_user_model().objects.filter(pk=user_id).first()


@admin.register(Cart)
class CartLookupAdmin(ReadOnlyAdmin):
    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        term = request.GET.get("q", "").strip()
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": "Look up a cart",
            "opts": self.model._meta,
            "term": term,
        }
        if term:
            cart_id, user = find_cart_id(term)
            context.update(searched=True, cart_id=cart_id, owner=user)
            try:
                cart = queries.get_cart(cart_id, touch=False) if cart_id else None
                products = queries.products_by_id(line.product_id for line in cart.items) if cart else {}
            except ServiceUnavailable as exc:
                context["error"] = exc.message
                cart, products = None, {}
            context["cart"] = cart
            context["lines"] = [
                {"line": line, "product": products.get(line.product_id)} for line in (cart.items if cart else ())
            ]
        return TemplateResponse(request, "admin/cart/lookup.html", context)
