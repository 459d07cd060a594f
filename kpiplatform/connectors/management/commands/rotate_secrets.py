"""Re-encrypt every company's connection secrets with the first key of KPI_SECRET_KEYS."""

from django.core.management.base import BaseCommand
from django_tenants.utils import get_public_schema_name, schema_context

from kpiplatform.connectors import secrets
from kpiplatform.connectors.models import Connection
from kpiplatform.tenants.models import Company


class Command(BaseCommand):
    help = (
        "Re-encrypt the secrets of every company's connections with the first key of "
        "KPI_SECRET_KEYS; afterwards the other keys may be removed."
    )

    def handle(self, *args, **options):
        total = 0
        companies = Company.objects.exclude(schema_name=get_public_schema_name())
        for schema_name in companies.order_by("schema_name").values_list("schema_name", flat=True):
            with schema_context(schema_name):
                for connection in Connection.objects.exclude(secrets_encrypted=""):
                    Connection.objects.filter(pk=connection.pk).update(
                        secrets_encrypted=secrets.rotate(connection.secrets_encrypted)
                    )
                    total += 1
        self.stdout.write(f"Re-encrypted the secrets of {total} connections.")
