"""Write docs/kpis.md, the users' reference of every KPI, from the installed KPI definitions.

The definitions shown in the product (API catalogue, KPI pages) and in the docs are the same
text; ``tests/test_docs.py`` fails when docs/kpis.md is out of date.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from kpiplatform.kpis.documentation import kpi_reference


class Command(BaseCommand):
    help = "Write docs/kpis.md from the KPI definitions of the built-in library."

    def add_arguments(self, parser):
        parser.add_argument("--stdout", action="store_true", help="Print instead of writing.")

    def handle(self, *args, **options):
        text = kpi_reference()
        if options["stdout"]:
            self.stdout.write(text, ending="")
            return
        path = Path(settings.BASE_DIR) / "docs" / "kpis.md"
        path.write_text(text)
        self.stdout.write(f"Wrote {path}")
