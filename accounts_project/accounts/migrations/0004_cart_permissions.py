"""The cart service's permission: staff who help customers (order managers, admins) may read any cart."""

from django.db import migrations

PERMISSIONS = {"cart.view_cart": "See any shopper's cart"}
ROLES = {"order_manager": ["cart.view_cart"], "admin": ["cart.view_cart"]}


def add_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    ServicePermission = apps.get_model("accounts", "ServicePermission")
    created = {
        codename: ServicePermission.objects.get_or_create(codename=codename, defaults={"description": description})[0]
        for codename, description in PERMISSIONS.items()
    }
    for role, codenames in ROLES.items():
        group = Group.objects.filter(name=role).first()
        if group is not None:
            group.service_permissions.add(*(created[codename] for codename in codenames))


def remove_permissions(apps, schema_editor):
    apps.get_model("accounts", "ServicePermission").objects.filter(codename__in=PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_service_permission_codename_format")]

    operations = [migrations.RunPython(add_permissions, remove_permissions)]
