"""``manage.py create_company``: create a company and its first admin from the command line.

The same path as signup (validation, schema, domain, admin), for operators: the first company
of a fresh installation, or one made on a customer's behalf.
"""

from __future__ import annotations

import getpass
import os

from django.core.management.base import BaseCommand, CommandError

from kpiplatform.tenants import provisioning
from kpiplatform.tenants.handover import company_url


class Command(BaseCommand):
    help = "Create a company, its schema, its host and its first admin."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True, help="the company's name")
        parser.add_argument("--slug", required=True, help="host name part: <slug>.<base domain>")
        parser.add_argument("--admin-email", required=True)
        parser.add_argument(
            "--admin-password-env",
            metavar="VARIABLE",
            help="read the admin's password from this environment variable (default: prompt)",
        )

    def handle(self, *args, name: str, slug: str, admin_email: str, **options) -> None:
        variable = options.get("admin_password_env")
        if variable:
            password = os.environ.get(variable, "")
            if not password:
                raise CommandError(f"the environment variable {variable} is empty or unset")
        else:
            password = getpass.getpass("Password of the first admin: ")
        request = provisioning.SignupRequest(
            company_name=name, slug=slug, admin_email=admin_email, admin_password=password
        )
        try:
            company, admin = provisioning.create_company(request)
        except provisioning.SignupInvalid as exc:
            problems = "; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
            )
            raise CommandError(problems) from exc
        self.stdout.write(
            f"Created {company.name}: {company_url(company.slug)} (admin {admin.email})"
        )
