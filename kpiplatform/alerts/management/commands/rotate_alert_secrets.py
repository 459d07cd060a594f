"""Re-encrypt every company's alert channel secrets with the first key of KPI_SECRET_KEYS."""

from django.core.management.base import BaseCommand
from django_tenants.utils import get_public_schema_name, schema_context

from kpiplatform.alerts.models import Channel
from kpiplatform.connectors import secrets
from kpiplatform.tenants.models import Company


class Command(BaseCommand):
    help = (
        "Re-encrypt the secrets of every company's alert channels (webhook signing secrets, "
        "Slack URLs) with the first key of KPI_SECRET_KEYS; run it with rotate_secrets."
    )

    def handle(self, *args, **options):
        total = 0
        companies = Company.objects.exclude(schema_name=get_public_schema_name())
        for schema_name in companies.order_by("schema_name").values_list("schema_name", flat=True):
            with schema_context(schema_name):
                for channel in Channel.objects.exclude(secrets=""):
                    Channel.objects.filter(pk=channel.pk).update(
                        secrets=secrets.rotate(channel.secrets)
                    )
                    total += 1
        self.stdout.write(f"Re-encrypted the secrets of {total} alert channels.")
