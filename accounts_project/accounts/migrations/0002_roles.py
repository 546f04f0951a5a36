"""Roles (Django groups) and the cross-service permissions they grant.

Data frozen here on purpose: later changes go in new migrations or through the admin.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SERVICE_PERMISSIONS = {
    "catalog.view_product": "See products in the catalog admin",
    "catalog.add_product": "Create products",
    "catalog.change_product": "Edit products and adjust stock",
    "catalog.delete_product": "Delete products",
    "catalog.view_category": "See categories in the catalog admin",
    "catalog.add_category": "Create categories",
    "catalog.change_category": "Edit categories",
    "catalog.delete_category": "Delete categories",
    "orders.add_order": "Place orders",
    "orders.view_order": "See every customer's orders",
    "orders.change_order": "Edit orders",
    "orders.change_order_status": "Move orders through their statuses",
    "accounts.view_user": "See other users' account data (email, roles)",
    "accounts.change_user": "Edit other users' accounts",
}

CATALOG = [name for name in SERVICE_PERMISSIONS if name.startswith("catalog.")]
ROLES = {
    "customer": ["orders.add_order"],
    "catalog_manager": CATALOG,
    "order_manager": ["orders.view_order", "orders.change_order", "orders.change_order_status", "accounts.view_user"],
    "admin": list(SERVICE_PERMISSIONS),
}
# Permissions in this service's own Django admin: the admin role runs users, roles and sessions.
ADMIN_LOCAL_APPS = ("accounts", "auth")


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ServicePermission = apps.get_model("accounts", "ServicePermission")

    by_codename = {}
    for codename, description in SERVICE_PERMISSIONS.items():
        by_codename[codename], _ = ServicePermission.objects.get_or_create(
            codename=codename, defaults={"description": description}
        )
    for role, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.service_permissions.add(*(by_codename[codename] for codename in codenames))

    # Django creates model permissions after migrations; create them now so the admin role can get them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    admin = Group.objects.get(name="admin")
    admin.permissions.add(*Permission.objects.filter(content_type__app_label__in=ADMIN_LOCAL_APPS))


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()
    apps.get_model("accounts", "ServicePermission").objects.filter(codename__in=SERVICE_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
