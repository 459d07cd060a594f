"""Routes each request to its company's schema by host name."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name

from kpiplatform.tenants.models import Company, Domain

# The company of a host name, in one statement without the ORM's query building (every
# request of every page makes it). Only the model's own names are put in the text.
_COMPANY_FIELDS = [f.attname for f in Company._meta.concrete_fields]
_COMPANY_OF_HOST = "SELECT {} FROM {} c JOIN {} d ON d.tenant_id = c.id WHERE d.domain = %s".format(  # noqa: S608
    ", ".join(f"c.{connection.ops.quote_name(name)}" for name in _COMPANY_FIELDS),
    Company._meta.db_table,
    Domain._meta.db_table,
)


class CompanyMiddleware(TenantMainMiddleware):
    """django-tenants' host routing, answering 404 for deactivated (and spare) companies.

    A deactivated company keeps its schema and data; only its hosts stop answering. The host
    names in KPI_PUBLIC_HOST_ALIASES (127.0.0.1 in development) answer as the public host.
    """

    def get_tenant(self, domain_model, hostname):
        with connection.cursor() as cursor:
            cursor.execute(_COMPANY_OF_HOST, [hostname])
            row = cursor.fetchone()
        if row is None:
            if hostname not in settings.KPI_PUBLIC_HOST_ALIASES:
                raise domain_model.DoesNotExist(f"no company has the host {hostname}")
            return Company.objects.get(schema_name=get_public_schema_name())
        tenant = Company.from_db(connection.alias, _COMPANY_FIELDS, row)
        if tenant.schema_name != "public" and tenant.state != Company.State.ACTIVE:
            raise domain_model.DoesNotExist(f"company {tenant.schema_name} is not active")
        return tenant
