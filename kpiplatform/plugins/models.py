"""Per-company plugin settings and the errors plugins raised in the company (tenant schema)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class PluginSetting(models.Model):
    """Whether a company has a plugin switched on. No row means on (the default)."""

    plugin = models.CharField(max_length=200, unique=True)  # distribution name
    enabled = models.BooleanField(default=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.plugin}: {'on' if self.enabled else 'off'}"


class PluginError(models.Model):
    """An exception a plugin raised while working for this company, kept for its admins."""

    plugin = models.CharField(max_length=200)
    hook = models.CharField(max_length=200)  # a hook name, or e.g. "compute:mrr"
    message = models.TextField()
    traceback = models.TextField(blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["plugin", "-occurred_at"])]

    def __str__(self) -> str:
        return f"{self.plugin} {self.hook}: {self.message}"
