"""Routes each request to its company's schema by host name."""

from __future__ import annotations

from django.conf import settings
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name

from kpiplatform.tenants.models import Company


class CompanyMiddleware(TenantMainMiddleware):
    """django-tenants' host routing, answering 404 for deactivated (and spare) companies.

    A deactivated company keeps its schema and data; only its hosts stop answering. The host
    names in KPI_PUBLIC_HOST_ALIASES (127.0.0.1 in development) answer as the public host.
    """

    def get_tenant(self, domain_model, hostname):
        try:
            domain = domain_model.objects.select_related("tenant").get(domain=hostname)
        except domain_model.DoesNotExist:
            if hostname not in settings.KPI_PUBLIC_HOST_ALIASES:
                raise
            return Company.objects.get(schema_name=get_public_schema_name())
        tenant = domain.tenant
        if tenant.schema_name != "public" and tenant.state != Company.State.ACTIVE:
            raise domain_model.DoesNotExist(f"company {tenant.schema_name} is not active")
        return tenant
