"""The replica user: what this service knows about an accounts user."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.db import models


class ReplicaUserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        user = self.model(email=self.normalize_email(email), **fields)
        if password:
            user.set_password(password)  # only local break-glass accounts have one
        else:
            user.set_unusable_password()  # replicas sign in through accounts
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    # The accounts user id (the `sub` of its tokens); local break-glass users get a fresh one.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    # Verbatim from accounts: role (group) names and permission strings, including those of
    # other services. `groups`/`user_permissions` hold the locally meaningful part for Django.
    roles = ArrayField(models.CharField(max_length=150), default=list, blank=True)
    permissions = ArrayField(models.CharField(max_length=255), default=list, blank=True)
    # When the accounts event last applied to this row happened: older events are ignored,
    # and tokens issued before it carry outdated roles (see common.auth.principal).
    synced_at = models.DateTimeField(null=True, blank=True)

    objects = ReplicaUserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = "user"
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email
