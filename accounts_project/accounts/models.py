"""Users, the permissions roles grant across services, and server-side sessions."""

from __future__ import annotations

import uuid
from typing import Any

from common.events.bridge import BridgedQuerySet, TransactionalSaveMixin
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, Group, PermissionsMixin
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


def normalize_email(email: str) -> str:
    """One spelling per mailbox: logins and uniqueness are case-insensitive."""
    return (email or "").strip().lower()


class UserManager(BaseUserManager.from_queryset(BridgedQuerySet)):  # type: ignore[misc]
    """Users are bridged (accounts/events.py): bulk writes record their events, update() is refused."""

    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email=normalize_email(username or ""))

    def _create(self, email: str, password: str | None, **fields: Any) -> User:
        if not email:
            raise ValueError("Users need an email address.")
        user = self.model(email=normalize_email(email), **fields)
        user.set_password(password)  # None = unusable password
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **fields)


class User(TransactionalSaveMixin, AbstractBaseUser, PermissionsMixin):
    """A person who signs in. Roles are Django groups; what a role allows elsewhere is ServicePermission."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField("email address", max_length=254, unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(
        default=True, help_text="Inactive users cannot sign in and every token they hold is rejected."
    )
    is_staff = models.BooleanField(default=False, help_text="May sign in to the Django admin of the services.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]
        constraints = [models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique")]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = normalize_email(self.email)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


PERMISSION_STRING = RegexValidator(
    r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$", 'Use "<app label>.<codename>", e.g. "catalog.add_product".'
)


class ServicePermission(models.Model):
    """A Django permission string of some service ("catalog.add_product", "orders.change_order_status").

    Accounts has no Product or Order model, so these cannot be `auth.Permission` rows; a role (group)
    grants them through `groups`, and they travel in the access token's `perms` claim.
    """

    codename = models.CharField(
        max_length=150,
        unique=True,
        validators=[PERMISSION_STRING],
        help_text='"<service app label>.<permission codename>", e.g. "catalog.add_product".',
    )
    description = models.CharField(max_length=255, blank=True)
    groups = models.ManyToManyField(Group, related_name="service_permissions", blank=True, verbose_name="roles")

    class Meta:
        ordering = ["codename"]
        verbose_name = "service permission"

    def __str__(self) -> str:
        return self.codename


class SessionQuerySet(models.QuerySet["Session"]):
    def alive(self) -> SessionQuerySet:
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())


class Session(models.Model):
    """A server-side login session: the source of truth mirrored into the shared Redis registry.

    Access and refresh tokens carry the session id (`sid`); ending the session kills all of them.
    Refresh tokens rotate: only `refresh_jti` is valid; presenting an older one of this session
    means it was copied, so the whole session is revoked.
    """

    class EndReason(models.TextChoices):
        LOGOUT = "logout", "Logged out"
        LOGOUT_ALL = "logout_all", "Logged out everywhere"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        REFRESH_REUSE = "refresh_reuse", "Refresh token reused (possible theft)"
        DEACTIVATED = "deactivated", "User deactivated"
        ADMIN = "admin", "Ended by staff"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(default=timezone.now)
    # Sliding: every refresh pushes it out by the refresh-token lifetime, never past `max_expires_at`.
    expires_at = models.DateTimeField()
    max_expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=32, choices=EndReason.choices, blank=True)
    refresh_jti = models.UUIDField(null=True, blank=True, help_text="The only refresh token of this session still valid.")
    refresh_count = models.PositiveIntegerField(default=0)
    # The Django (cookie) session opened with it, so ending this session also ends the browser login.
    web_session_key = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="accounts_session_user_alive")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def is_alive(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()

    def seconds_left(self) -> int:
        return max(0, int((self.expires_at - timezone.now()).total_seconds()))
