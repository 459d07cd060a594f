"""Standing test companies with named users of each role."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from kpiplatform.hosts import host_for
from kpiplatform.tenants import provisioning, roles
from kpiplatform.tenants.models import Company

PASSWORD = "correct-horse-battery-staple-42"
ROLES = ("admin", "analyst", "viewer")


@dataclass
class TestCompany:
    """A company made for tests: its row, its host and one user per role."""

    company: Company
    users: dict[str, object] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return self.company.slug

    @property
    def schema_name(self) -> str:
        return self.company.schema_name

    @property
    def host(self) -> str:
        return host_for(self.company.slug)

    def activate(self):
        """Context manager: run the block inside this company's schema."""
        return schema_context(self.schema_name)

    def user(self, role: str = "admin"):
        return self.users[role]

    def email(self, role: str = "admin") -> str:
        return f"{role}@{self.slug}.test"

    def client(self, role: str | None = "admin", **defaults) -> Client:
        """A test client on this company's host, logged in as ``role`` (None: anonymous)."""
        client = Client(HTTP_HOST=self.host, **defaults)
        if role is not None:
            with self.activate():
                client.force_login(self.users[role])
        # force_login leaves the connection in this company's schema.
        connection.set_schema_to_public()
        return client


def create_test_company(slug: str, name: str | None = None) -> TestCompany:
    from kpiplatform.accounts.models import Role, User

    existing = Company.objects.filter(slug=slug).first()
    if existing is None:
        spares = provisioning.pool_size()
        company, _ = provisioning.create_company(
            provisioning.SignupRequest(
                company_name=name or slug.title(),
                slug=slug,
                admin_email=f"admin@{slug}.test",
                admin_password=PASSWORD,
            )
        )
        if provisioning.pool_size() < spares:
            # It took a spare of the signup pool: the signup tests count on them, so one is
            # made again (what creating the company without a spare would have cost).
            provisioning.fill_pool(spares)
    else:
        company = existing
    test_company = TestCompany(company=company)
    with schema_context(company.schema_name):
        for role in ROLES:
            user, _ = User.objects.get_or_create(
                email=f"{role}@{slug}.test", defaults={"role": Role(role)}
            )
            # get_or_create stores an empty password, which counts as usable but matches nothing.
            if not user.password or not user.has_usable_password():
                user.set_password(PASSWORD)
                user.save()
            test_company.users[role] = user
    return test_company


@contextlib.contextmanager
def public_schema():
    connection.set_schema_to_public()
    try:
        yield
    finally:
        connection.set_schema_to_public()


def database_footprint() -> dict:
    """Every company row, domain, schema, company role and user e-mail in the database, for
    comparisons.

    Comparing the footprint before and after an operation shows that nothing was left behind.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%%' "
            "AND nspname <> 'information_schema'"
        )
        schemas = sorted(row[0] for row in cursor.fetchall())
        users = {}
        for schema in schemas:
            cursor.execute("SELECT to_regclass(%s)", [f'"{schema}".accounts_user'])
            if cursor.fetchone()[0] is not None:
                # The schema name was just read from the catalogue and is quoted.
                query = f'SELECT email FROM "{schema}".accounts_user ORDER BY email'  # noqa: S608
                cursor.execute(query)
                users[schema] = [row[0] for row in cursor.fetchall()]
    from kpiplatform.tenants.models import Domain

    return {
        "companies": list(
            Company.objects.order_by("pk").values_list("pk", "schema_name", "slug", "state")
        ),
        "domains": sorted(Domain.objects.values_list("domain", flat=True)),
        "schemas": schemas,
        "roles": roles.database_roles(),
        "users": users,
    }
