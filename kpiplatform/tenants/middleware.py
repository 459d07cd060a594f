"""Routes each request to its company's schema by host name."""

from __future__ import annotations

from django_tenants.middleware.main import TenantMainMiddleware

from kpiplatform.tenants.models import Company


class CompanyMiddleware(TenantMainMiddleware):
    """django-tenants' host routing, answering 404 for deactivated (and spare) companies.

    A deactivated company keeps its schema and data; only its hosts stop answering.
    """

    def get_tenant(self, domain_model, hostname):
        domain = domain_model.objects.select_related("tenant").get(domain=hostname)
        tenant = domain.tenant
        if tenant.schema_name != "public" and tenant.state != Company.State.ACTIVE:
            raise domain_model.DoesNotExist(f"company {tenant.schema_name} is not active")
        return tenant
