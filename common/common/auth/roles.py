"""Role names (Django groups in accounts) that services check.

`admin` may do everything: every role and permission check passes for it.
"""

from __future__ import annotations

CUSTOMER = "customer"
CATALOG_MANAGER = "catalog_manager"
ORDER_MANAGER = "order_manager"
ADMIN = "admin"

ALL_ROLES = (CUSTOMER, CATALOG_MANAGER, ORDER_MANAGER, ADMIN)
