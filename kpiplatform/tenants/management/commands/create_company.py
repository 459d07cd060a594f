"""``manage.py create_company``: provision a company and its first admin from the shell."""

from __future__ import annotations

import getpass
import os
import sys

from django.core.management.base import BaseCommand, CommandError

from kpiplatform.hosts import company_url
from kpiplatform.tenants import provisioning
from kpiplatform.tenants.management.commands._common import validation_error_text


class Command(BaseCommand):
    help = (
        "Create a company with its schema, domain and first admin. The password comes from "
        "--admin-password, else the KPI_ADMIN_PASSWORD environment variable, else a prompt."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="The company's name.")
        parser.add_argument("--slug", required=True, help="Its address: <slug>.<base domain>.")
        parser.add_argument("--admin-email", required=True, help="The first admin's e-mail.")
        parser.add_argument("--admin-password", help="The first admin's password.")

    def handle(self, *args, **options):
        password = self._password(options)
        request = provisioning.SignupRequest(
            company_name=options["name"],
            slug=options["slug"].strip().lower(),
            admin_email=options["admin_email"],
            admin_password=password,
        )
        try:
            company, _admin = provisioning.create_company(request)
        except provisioning.SignupInvalid as exc:
            raise CommandError(
                f"The company was not created:\n{validation_error_text(exc)}"
            ) from exc
        self.stdout.write(f"Created {company.name}: {company_url(company.slug)}")

    def _password(self, options) -> str:
        password = options["admin_password"] or os.environ.get("KPI_ADMIN_PASSWORD")
        if password:
            return password
        if not sys.stdin.isatty():
            raise CommandError("No password: pass --admin-password or set KPI_ADMIN_PASSWORD.")
        first = getpass.getpass("Admin password: ")
        if first != getpass.getpass("Admin password (again): "):
            raise CommandError("The two passwords differ.")
        return first
