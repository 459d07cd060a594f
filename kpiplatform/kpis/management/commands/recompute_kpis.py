"""``manage.py recompute_kpis [--company SLUG]``: rebuild the ledger and recompute every KPI."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from kpiplatform.kpis import engine
from kpiplatform.tenants.models import Company


class Command(BaseCommand):
    help = "Rebuild the MRR ledger and recompute every KPI of one company or of all companies."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--company", metavar="SLUG", help="only this company")

    def handle(self, *args, company: str | None = None, **options) -> None:
        companies = Company.objects.filter(state=Company.State.ACTIVE).exclude(schema_name="public")
        if company:
            companies = companies.filter(slug=company)
            if not companies.exists():
                raise CommandError(f"no active company with slug {company!r}")
        for each in companies.order_by("slug"):
            started = time.perf_counter()
            with schema_context(each.schema_name):
                report = engine.recompute_everything()
            elapsed = time.perf_counter() - started
            line = (
                f"{each.slug}: {len(report.computed)} KPIs, {report.values_stored} values "
                f"in {elapsed:.1f} s"
            )
            if report.failed:
                line += f"; failed: {', '.join(sorted(report.failed))}"
                self.stderr.write(line)
            else:
                self.stdout.write(line)
