"""An owned object, as a customer's cart or order will be."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Note(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notes")
    title = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.title
