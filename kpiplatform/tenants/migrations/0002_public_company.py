"""The public schema is a company row too: django-tenants routes the base domain to it."""

from django.conf import settings
from django.db import migrations


def create_public_company(apps, schema_editor):
    Company = apps.get_model("tenants", "Company")
    Domain = apps.get_model("tenants", "Domain")
    public, _ = Company.objects.get_or_create(
        schema_name="public", defaults={"name": "kpiplatform", "slug": None, "state": "active"}
    )
    Domain.objects.get_or_create(
        domain=settings.KPI_BASE_DOMAIN, defaults={"tenant": public, "is_primary": True}
    )


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]
    operations = [migrations.RunPython(create_public_company, migrations.RunPython.noop)]
