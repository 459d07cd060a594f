"""``manage.py reactivate_company <slug>``: serve a deactivated company again."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from kpiplatform.hosts import company_url
from kpiplatform.tenants import provisioning
from kpiplatform.tenants.management.commands._common import company_by_slug
from kpiplatform.tenants.models import Company


class Command(BaseCommand):
    help = "Reactivate a deactivated company: its hosts answer again, with all of its data."

    def add_arguments(self, parser):
        parser.add_argument("slug")

    def handle(self, *args, **options):
        company = company_by_slug(options["slug"])
        if company.state != Company.State.DEACTIVATED:
            raise CommandError(f"“{company.slug}” is not deactivated.")
        provisioning.reactivate_company(company)
        self.stdout.write(f"Reactivated {company.name}: {company_url(company.slug)}")
