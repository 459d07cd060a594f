"""Create the demo company (development only): ``make run`` calls this before serving."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from kpiplatform.web import demo


class Command(BaseCommand):
    help = "Create and fill the demo company once (only with DEBUG on)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--sandbox-seeds",
            type=Path,
            help="seed folder of the running connector sandboxes: connect the demo to them",
        )

    def handle(self, *args, sandbox_seeds: Path | None = None, **options) -> str:
        if not settings.DEBUG:
            return ""
        result = demo.ensure_demo_company(sandbox_seeds)
        if result.created:
            self.stderr.write(f"Created the demo company {demo.DEMO_NAME}.")
        # Returned, not printed: `manage.py run` shows it in its banner.
        password = demo.DEMO_PASSWORD
        logins = [f"    {role.value:<14} {email} / {password}" for role, email in demo.DEMO_USERS]
        return "\n".join([f"  Demo company     {result.url}  log in as:", *logins])
