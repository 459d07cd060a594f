"""People of one company, their roles, invitations and API tokens (tenant schema).

The tables also exist in the public schema, where only platform staff users live.
"""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    """What a member may do. Each role includes the rights of the roles below it."""

    ADMIN = "admin", "Admin"  # connections, users, plugins, settings
    ANALYST = "analyst", "Analyst"  # alerts, goals, reports
    VIEWER = "viewer", "Viewer"  # reads

    @classmethod
    def rank(cls, role: str) -> int:
        return {cls.VIEWER: 0, cls.ANALYST: 1, cls.ADMIN: 2}[role]


class EmailUserManager(UserManager):
    def _create_user(self, username, email, password, **extra_fields):
        email = self.normalize_email(email or username).lower()
        return super()._create_user(email, email, password, **extra_fields)

    def create_user(self, email=None, password=None, **extra_fields):
        return self._create_user(email, email, password, **extra_fields)

    def create_superuser(self, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", Role.ADMIN)
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, email, password, **extra_fields)


class User(AbstractUser):
    """A person who logs in with an e-mail address. ``username`` mirrors the e-mail."""

    email = models.EmailField(unique=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = EmailUserManager()

    def save(self, *args, **kwargs):
        self.email = self.email.lower()
        self.username = self.email
        super().save(*args, **kwargs)

    def has_role(self, role: str) -> bool:
        return self.is_active and Role.rank(self.role) >= Role.rank(role)

    @property
    def is_admin(self) -> bool:
        return self.has_role(Role.ADMIN)


def hash_secret(raw: str) -> str:
    """SHA-256 of a high-entropy random secret: enough for tokens, never used for passwords."""
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A personal API token. Only its hash is stored; the raw token is shown once at creation.

    Format: ``kpi_<prefix>_<secret>``; the prefix identifies the token in lists and logs.
    """

    PREFIX = "kpi_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    read_only = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.PREFIX}{self.prefix}_…)"

    @classmethod
    def issue(cls, user: User, name: str, read_only: bool = True) -> tuple[ApiToken, str]:
        """Create a token; return it with the raw value, which is never stored."""
        prefix = secrets.token_hex(4)
        raw = f"{cls.PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        token = cls.objects.create(
            user=user, name=name, prefix=prefix, key_hash=hash_secret(raw), read_only=read_only
        )
        return token, raw

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])

    @classmethod
    def revoke_all(cls, user: User) -> int:
        """Revoke every active token of ``user``; return how many."""
        return cls.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )


class Invitation(models.Model):
    """An e-mailed invitation to join the company with a role; the link expires."""

    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} as {self.role}"

    @property
    def is_pending(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > timezone.now()
        )


class LoginHandover(models.Model):
    """A one-time, short-lived ticket that logs a user in on the company host.

    Signup happens on the public host; cookies are per host, so the new admin is handed over
    to ``<slug>.<base domain>`` with this ticket in the URL. Only its hash is stored.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"hand-over for user {self.user_id}"
