"""Creating, deactivating and reactivating companies.

Signup must be fast, so a small **warm pool** of spare schemas is kept migrated like every
company (they are Company rows in the ``spare`` state, so ``migrate_schemas`` reaches them).
Signup renames one (``ALTER SCHEMA ... RENAME``, under a millisecond) inside the same
transaction that creates the domain and the first admin: a failure half-way rolls all of it
back. With the pool empty, signup still works by migrating a new schema, only slower: the
migrations then run inside that same transaction (django-tenants' standard executor does not
commit inside an ``atomic`` block), so that path is all-or-nothing too. It follows that tenant
migrations must be transactional: no ``atomic = False`` and no ``CREATE INDEX CONCURRENTLY``.

Each schema has its company's database role (``kpiplatform.tenants.roles``): made when the
schema's migrations have run (spares included), renamed with a spare when a signup takes it,
dropped with the company.
"""

from __future__ import annotations

import functools
import re
import secrets
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from django_tenants.utils import schema_context

from kpiplatform.hosts import host_for
from kpiplatform.tenants import roles
from kpiplatform.tenants.models import Company, Domain

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
RESERVED_SLUGS = frozenset(
    {
        "admin", "api", "app", "assets", "auth", "billing", "blog", "dashboard", "default",
        "dev", "docs", "ftp", "help", "information-schema", "kpiplatform", "login", "mail",
        "media", "public", "root", "signup", "smtp", "spare", "staging", "static", "status",
        "support", "test", "www",
    }
)  # fmt: skip
SPARE_PREFIX = "spare_"
# Unicode categories a company name may not contain: control characters (CR, LF, tab, NUL...)
# and the line and paragraph separators.
UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
# Serialises pool refills (any fixed 64-bit number unique to this purpose).
POOL_LOCK_KEY = 0x6B70695F706F6F6C


@dataclass(frozen=True)
class SignupRequest:
    company_name: str
    slug: str
    admin_email: str
    admin_password: str


class SignupInvalid(ValidationError):
    """The signup data was refused; ``message_dict`` maps each field to its messages."""


def schema_name_for(slug: str) -> str:
    # Hyphens are fine in host names but would need quoting in SQL; slugs never hold "_".
    return slug.replace("-", "_")


def validate_signup(request: SignupRequest) -> None:
    """Raise SignupInvalid with a message per field; nothing is written."""
    from kpiplatform.accounts.models import User

    errors: dict[str, list[str]] = {}
    name = request.company_name.strip()
    if not name:
        errors["company_name"] = ["Enter your company's name."]
    elif len(name) > 200:
        errors["company_name"] = ["Use at most 200 characters."]
    elif any(unicodedata.category(char) in UNPRINTABLE_CATEGORIES for char in name):
        # The name goes into e-mail subjects and page titles: one line of visible text.
        errors["company_name"] = ["Use one line of text: no line breaks or control characters."]
    slug = request.slug
    if not SLUG_PATTERN.match(slug) or "--" in slug:
        errors["slug"] = [
            "Use 3 to 40 lower-case letters, digits and single hyphens, starting with a letter "
            "and not ending with a hyphen."
        ]
    elif slug in RESERVED_SLUGS or slug.startswith(("pg-", "spare")):
        errors["slug"] = [f"“{slug}” is reserved; choose another."]
    elif _address_taken(slug):
        errors["slug"] = [_taken_message(slug)]
    email = request.admin_email.strip().lower()
    try:
        from django.core.validators import validate_email

        validate_email(email)
    except ValidationError:
        errors["admin_email"] = ["Enter a valid e-mail address."]
    try:
        validate_password(request.admin_password, user=User(email=email, username=email))
    except ValidationError as exc:
        errors["admin_password"] = list(exc.messages)
    if errors:
        raise SignupInvalid(errors)


def create_company(request: SignupRequest) -> tuple[Company, object]:
    """Validate, then create the company, its schema, its domain and its first admin.

    Returns the company and its admin user. All or nothing: everything happens in one
    PostgreSQL transaction (DDL included, and django-tenants' standard migration executor runs
    every migration inside an enclosing ``atomic`` block instead of committing), so a failure
    half-way leaves no schema, company row, domain or user behind.
    """
    from kpiplatform.accounts.models import Role, User

    validate_signup(request)
    schema_name = schema_name_for(request.slug)
    try:
        with transaction.atomic():
            company = claim_spare(schema_name)
            if company is None:
                company = Company(schema_name=schema_name)
            company.name = request.company_name.strip()
            company.slug = request.slug
            company.state = Company.State.ACTIVE
            company.created_at = timezone.now()
            company.save()
            if not _schema_exists(schema_name):
                # Pool empty: migrate a new schema (slow path), still inside this transaction.
                _migrate_new_schema(company)
            Domain.objects.create(domain=host_for(request.slug), tenant=company, is_primary=True)
            with schema_context(schema_name):
                admin = User.objects.create_user(
                    email=request.admin_email.strip(),
                    password=request.admin_password,
                    role=Role.ADMIN,
                )
    except IntegrityError as exc:
        # Another signup took the same address between validation and insert.
        if _address_taken(request.slug):
            raise SignupInvalid({"slug": [_taken_message(request.slug)]}) from exc
        raise
    finally:
        # A failed migration leaves the connection pointing at the half-made schema.
        connection.set_schema_to_public()
    return company, admin


def claim_spare(schema_name: str) -> Company | None:
    """Take one spare schema from the pool and rename it; None if the pool is empty.

    Must run inside a transaction: the spare's row stays locked until it commits, and
    concurrent signups skip locked rows, so two signups never take the same spare. A spare
    that is behind the code's migrations (a deploy that has not run ``migrate_schemas`` yet)
    is brought up to date before it is handed out.
    """
    while True:
        spare = (
            Company.objects.select_for_update(skip_locked=True)
            .filter(state=Company.State.SPARE)
            .order_by("pk")
            .first()
        )
        if spare is None:
            return None
        if _schema_exists(spare.schema_name):
            break
        # A spare row whose schema was dropped by hand is useless: forget it, take the next.
        Company.objects.filter(pk=spare.pk).delete()
        roles.drop_company_role(spare.schema_name)
    if not is_migrated(spare.schema_name):
        _migrate_schema(spare.schema_name)
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER SCHEMA "{spare.schema_name}" RENAME TO "{schema_name}"')
    roles.rename_company_role(spare.schema_name, schema_name)
    spare.schema_name = schema_name
    return spare


@functools.cache
def _latest_migrations() -> frozenset[tuple[str, str]]:
    # Every migration of every app is recorded in each tenant schema's django_migrations
    # (the router only skips the operations), so the graph's leaves are what a schema needs.
    return frozenset(MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes())


def is_migrated(schema_name: str) -> bool:
    """Whether the schema has applied the latest migration of every app."""
    with connection.cursor() as cursor:
        # Schema names come from Company rows, checked by django-tenants' name validator.
        cursor.execute(f'SELECT app, name FROM "{schema_name}".django_migrations')  # noqa: S608
        applied = set(cursor.fetchall())
    return _latest_migrations() <= applied


def _migrate_schema(schema_name: str) -> None:
    call_command(
        "migrate_schemas", tenant=True, schema_name=schema_name, interactive=False, verbosity=0
    )
    connection.set_schema_to_public()


def _migrate_new_schema(company: Company) -> None:
    with connection.cursor() as cursor:
        # Migrations normally each commit on their own; in one transaction, deferred foreign-key
        # checks queued by a data migration would block a later ALTER TABLE of the same table
        # ("pending trigger events"). Checking them at once avoids that.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f'CREATE SCHEMA "{company.schema_name}"')
    _migrate_schema(company.schema_name)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _schema_exists(schema_name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE lower(nspname) = %s", [schema_name])
        return cursor.fetchone() is not None


def _address_taken(slug: str) -> bool:
    return (
        Company.objects.filter(slug=slug).exists()
        or Company.objects.filter(schema_name__iexact=schema_name_for(slug)).exists()
        or Domain.objects.filter(domain=host_for(slug)).exists()
        # A schema without a company (kept after a deletion) must never be adopted.
        or _schema_exists(schema_name_for(slug))
    )


def _taken_message(slug: str) -> str:
    return f"“{slug}” is taken; choose another."


def fill_pool(size: int | None = None) -> int:
    """Create spare, fully migrated schemas until the pool holds ``size``; return how many.

    Each spare is made in its own transaction (schema, migrations and row together), so the
    pool only ever holds complete spares, and an advisory lock keeps concurrent refills from
    overfilling it.
    """
    target = settings.KPI_SIGNUP_POOL_SIZE if size is None else size
    created = 0
    while True:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [POOL_LOCK_KEY])
            if pool_size() >= target:
                return created
            spare = Company(
                schema_name=f"{SPARE_PREFIX}{secrets.token_hex(6)}",
                name="",
                state=Company.State.SPARE,
            )
            spare.save()
            try:
                _migrate_new_schema(spare)
            finally:
                connection.set_schema_to_public()
        created += 1


def pool_size() -> int:
    """How many spare schemas are waiting for a signup."""
    return Company.objects.filter(state=Company.State.SPARE).count()


def deactivate_company(company: Company) -> None:
    """Stop serving the company's hosts (they answer 404); keep its schema and data."""
    if company.schema_name == "public" or company.state == Company.State.SPARE:
        raise ValueError(f"{company.schema_name} is not a company and cannot be deactivated")
    company.state = Company.State.DEACTIVATED
    company.deactivated_at = timezone.now()
    company.save(update_fields=["state", "deactivated_at"])


def reactivate_company(company: Company) -> None:
    """Serve a deactivated company's hosts again, with all of its data."""
    if company.state != Company.State.DEACTIVATED:
        raise ValueError(f"{company.slug or company.schema_name} is not deactivated")
    company.state = Company.State.ACTIVE
    company.deactivated_at = None
    company.save(update_fields=["state", "deactivated_at"])
