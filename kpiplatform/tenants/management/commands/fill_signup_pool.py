"""``manage.py fill_signup_pool [--size N]``: make spare, migrated schemas for fast signups."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kpiplatform.tenants import provisioning


class Command(BaseCommand):
    help = (
        "Fill the signup pool with spare, fully migrated schemas (default: KPI_SIGNUP_POOL_SIZE)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--size", type=int, default=None, help="How many spares to keep.")

    def handle(self, *args, **options):
        size = settings.KPI_SIGNUP_POOL_SIZE if options["size"] is None else options["size"]
        if size < 0:
            raise CommandError("--size must be 0 or more.")
        created = provisioning.fill_pool(size)
        self.stdout.write(
            f"Created {created} spare schema(s); the pool holds {provisioning.pool_size()}."
        )
