"""No cart data lives in SQL: carts are in the cart's Redis (cart.store).

`Cart` is an unmanaged placeholder (no table) that gives the admin its "Carts" entry and Django
the permission `cart.view_cart`, which accounts grants to order managers and admins.
"""

from django.db import models


class Cart(models.Model):
    class Meta:
        managed = False
        default_permissions = ("view",)
        verbose_name = "cart"

    def __str__(self) -> str:
        return f"cart {self.pk}"
