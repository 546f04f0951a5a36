"""Django admin for staff: users, roles (groups) with their cross-service permissions, sessions.

State changes that other services must learn about go through accounts.commands, exactly like
the API: deactivation (registry + sessions + event), reactivation, ending sessions, and a
`roles_changed` event whenever a save changes what a user may do.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from accounts import commands, web
from accounts.models import ServicePermission, Session, User
from accounts.queries import Authorization, authorization_of, users_with_roles


def service_grants(user: User) -> tuple[str, ...]:
    """What the user's roles allow across services (ADMIN_USER_GRANTS: the admin index tells staff
    who may see nothing here where their permissions apply)."""
    loaded = users_with_roles().filter(pk=user.pk).first()
    return authorization_of(loaded).perms if loaded is not None else ()


# --- helpers: who is affected by a role change ---------------------------------------------------


def _snapshot(users: QuerySet[User]) -> dict[str, Authorization]:
    return {str(user.pk): authorization_of(user) for user in users_with_roles().filter(pk__in=users.values("pk"))}


def _record_changes(snapshot: dict[str, Authorization]) -> int:
    return sum(commands.record_authorization_changed(user_id=user_id, before=before) for user_id, before in snapshot.items())


# --- users ---------------------------------------------------------------------------------------


class AccountCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")


class AccountChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class SessionInline(admin.TabularInline):
    model = Session
    extra = 0
    can_delete = False
    fields = ("created_at", "last_used_at", "expires_at", "revoked_at", "revoke_reason", "ip_address", "user_agent")
    readonly_fields = fields
    ordering = ("-created_at",)
    verbose_name_plural = "sessions (end them with the list actions)"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Session]:
        return super().get_queryset(request).filter(revoked_at__isnull=True)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = AccountChangeForm
    add_form = AccountCreationForm
    ordering = ("email",)
    list_display = ("email", "full_name", "is_active", "is_staff", "role_names", "date_joined")
    list_filter = ("is_active", "is_staff", "is_superuser", "groups")
    search_fields = ("email", "full_name")
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name",)}),
        (
            "Access",
            {
                "fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions"),
                "description": "Roles are the groups. Unticking 'active' signs the user out everywhere at once.",
            },
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "full_name", "usable_password", "password1", "password2")}),
    )
    inlines = [SessionInline]
    actions = ["deactivate_users", "reactivate_users", "end_all_sessions"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="roles")
    def role_names(self, user: User) -> str:
        return ", ".join(sorted(group.name for group in user.groups.all()))

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[Any]:
        return self.inlines if obj is not None else []

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        if change:
            stored = User.objects.get(pk=obj.pk)
            request._accounts_before = _snapshot(User.objects.filter(pk=obj.pk))  # type: ignore[attr-defined]
            request._accounts_activation = (stored.is_active, obj.is_active)  # type: ignore[attr-defined]
            obj.is_active = stored.is_active  # (de)activation goes through the commands below
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        user = form.instance
        if not change:
            commands.record_user_registered(user_id=str(user.pk))
            return
        was_active, wants_active = request._accounts_activation  # type: ignore[attr-defined]
        if was_active and not wants_active:
            commands.deactivate_user(user_id=str(user.pk))
        elif wants_active and not was_active:
            commands.reactivate_user(user_id=str(user.pk))
        _record_changes(request._accounts_before)  # type: ignore[attr-defined]

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and isinstance(response, HttpResponseRedirect):
            # A password set by staff ends the user's sessions (but the staff member's own current one).
            keep = request.session.get(web.SESSION_ID_KEY) if str(request.user.pk) == str(id) else None
            commands.end_user_sessions(user_id=str(id), reason=Session.EndReason.PASSWORD_CHANGED, except_session=keep)
        return response

    @admin.action(description="Deactivate selected users (signs them out everywhere)", permissions=["change"])
    def deactivate_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset.filter(is_active=True):
            commands.deactivate_user(user_id=str(user.pk))
        self.message_user(request, "Selected users are deactivated and signed out.", messages.SUCCESS)

    @admin.action(description="Reactivate selected users", permissions=["change"])
    def reactivate_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset.filter(is_active=False):
            commands.reactivate_user(user_id=str(user.pk))
        self.message_user(request, "Selected users are active again.", messages.SUCCESS)

    @admin.action(description="End all sessions of selected users", permissions=["change"])
    def end_all_sessions(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        ended = sum(commands.end_user_sessions(user_id=str(user.pk), reason=Session.EndReason.ADMIN) for user in queryset)
        self.message_user(request, f"Ended {ended} sessions.", messages.SUCCESS)


# --- roles and their cross-service permissions -------------------------------------------------


admin.site.unregister(Group)


class RoleForm(forms.ModelForm):
    service_permissions = forms.ModelMultipleChoiceField(
        queryset=ServicePermission.objects.all(),
        required=False,
        widget=FilteredSelectMultiple("service permissions", is_stacked=False),
        help_text="Permissions in other services (catalog, orders, ...) that this role grants; they go into tokens.",
    )

    class Meta:
        model = Group
        fields = ("name", "service_permissions", "permissions")
        labels = {"permissions": "Accounts admin permissions"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["service_permissions"].initial = self.instance.service_permissions.all()


@admin.register(Group)
class RoleAdmin(DjangoGroupAdmin):
    form = RoleForm
    list_display = ("name", "service_permission_list")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Group]:
        return super().get_queryset(request).prefetch_related("service_permissions")

    @admin.display(description="service permissions")
    def service_permission_list(self, group: Group) -> str:
        return ", ".join(p.codename for p in group.service_permissions.all())

    def save_model(self, request: HttpRequest, obj: Group, form: Any, change: bool) -> None:
        request._accounts_before = _snapshot(User.objects.filter(groups=obj)) if change else {}  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        form.instance.service_permissions.set(form.cleaned_data["service_permissions"])
        _record_changes(request._accounts_before)  # type: ignore[attr-defined]

    def delete_model(self, request: HttpRequest, obj: Group) -> None:
        before = _snapshot(User.objects.filter(groups=obj))
        super().delete_model(request, obj)
        _record_changes(before)


@admin.register(ServicePermission)
class ServicePermissionAdmin(admin.ModelAdmin):
    list_display = ("codename", "description", "role_list")
    search_fields = ("codename", "description")
    filter_horizontal = ("groups",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ServicePermission]:
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="roles")
    def role_list(self, permission: ServicePermission) -> str:
        return ", ".join(group.name for group in permission.groups.all())

    def save_model(self, request: HttpRequest, obj: ServicePermission, form: Any, change: bool) -> None:
        # Members of the roles it had and of the roles it gets may change.
        old_groups = list(obj.groups.all()) if change else []
        new_groups = list(form.cleaned_data.get("groups") or [])
        request._accounts_before = _snapshot(User.objects.filter(groups__in=[*old_groups, *new_groups]).distinct())  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        _record_changes(request._accounts_before)  # type: ignore[attr-defined]

    def delete_model(self, request: HttpRequest, obj: ServicePermission) -> None:
        before = _snapshot(User.objects.filter(groups__in=obj.groups.all()).distinct())
        super().delete_model(request, obj)
        _record_changes(before)


# --- sessions (read-only; ended through the action) ---------------------------------------------


class AliveFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("alive", "Alive"), ("ended", "Ended or expired")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Session]) -> QuerySet[Session]:
        alive = Session.objects.alive()
        if self.value() == "alive":
            return queryset.filter(pk__in=alive.values("pk"))
        if self.value() == "ended":
            return queryset.exclude(pk__in=alive.values("pk"))
        return queryset


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ("user", "created_at", "last_used_at", "expires_at", "revoked_at", "revoke_reason", "ip_address")
    list_select_related = ("user",)
    list_filter = (AliveFilter, "revoke_reason")
    search_fields = ("user__email", "id")
    readonly_fields = [field.name for field in Session._meta.fields]
    actions = ["end_sessions"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # ended sessions are the audit trail of theft detection and revocations

    @admin.action(description="End selected sessions", permissions=["change"])
    def end_sessions(self, request: HttpRequest, queryset: QuerySet[Session]) -> None:
        ended = sum(
            commands.end_session(session_id=str(session.pk), reason=Session.EndReason.ADMIN)
            for session in queryset.filter(revoked_at__isnull=True)
        )
        self.message_user(request, f"Ended {ended} sessions.", messages.SUCCESS)
