"""Companies (tenants) and the host names that route to them. Lives in the public schema."""

from __future__ import annotations

from django.db import models, transaction
from django_tenants.models import DomainMixin, TenantMixin

from kpiplatform.tenants import roles


class Company(TenantMixin):
    """A customer company: one PostgreSQL schema holding all of its users and data.

    Spare companies (``state == SPARE``) are pre-migrated schemas waiting in the signup pool;
    they have no domain, so no request can reach them.
    """

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        DEACTIVATED = "deactivated", "Deactivated"
        SPARE = "spare", "Spare (signup pool)"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=63, unique=True, null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)

    # Schemas are created explicitly by kpiplatform.tenants.provisioning, never as a side
    # effect of save(), so a failure half-way can be undone.
    auto_create_schema = False
    auto_drop_schema = True

    class Meta:
        verbose_name_plural = "companies"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state="spare")
                | models.Q(schema_name="public")
                | models.Q(slug__isnull=False),
                name="company_has_slug_unless_spare",
            )
        ]

    def __str__(self) -> str:
        return self.name or self.schema_name

    def delete(self, force_drop: bool = False, *args, **kwargs):
        """Delete the company with its schema (``auto_drop_schema``) and its database role."""
        with transaction.atomic():
            deleted = super().delete(force_drop, *args, **kwargs)
            roles.drop_company_role(self.schema_name)
        return deleted

    @property
    def is_active(self) -> bool:
        return self.state == self.State.ACTIVE


class Domain(DomainMixin):
    """A host name routed to a company: ``<slug>.<KPI_BASE_DOMAIN>`` or a custom domain."""
