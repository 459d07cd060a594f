"""``manage.py deactivate_company <slug>``: its hosts answer 404; schema and data are kept."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from kpiplatform.tenants import provisioning
from kpiplatform.tenants.management.commands._common import company_by_slug
from kpiplatform.tenants.models import Company


class Command(BaseCommand):
    help = "Deactivate a company: its hosts answer 404; its schema and data are kept."

    def add_arguments(self, parser):
        parser.add_argument("slug")

    def handle(self, *args, **options):
        company = company_by_slug(options["slug"])
        if company.state == Company.State.DEACTIVATED:
            raise CommandError(f"“{company.slug}” is already deactivated.")
        provisioning.deactivate_company(company)
        self.stdout.write(f"Deactivated {company.name} ({company.slug}); its data is kept.")
