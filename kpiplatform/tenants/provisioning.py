"""Creating, deactivating and reactivating companies.

Signup must be fast, so a small **warm pool** of spare schemas is kept migrated like every
company (they are Company rows in the ``spare`` state, so ``migrate_schemas`` reaches them).
Signup renames one (``ALTER SCHEMA ... RENAME``, under a millisecond) inside the same
transaction that creates the domain and the first admin: a failure half-way rolls all of it
back. With the pool empty, signup still works by migrating a new schema, only slower.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

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


def host_for(slug: str) -> str:
    return f"{slug}.{settings.KPI_BASE_DOMAIN}"


def validate_signup(request: SignupRequest) -> None:
    """Raise SignupInvalid with a message per field; nothing is written."""
    from kpiplatform.accounts.models import User

    errors: dict[str, list[str]] = {}
    name = request.company_name.strip()
    if not name:
        errors["company_name"] = ["Enter your company's name."]
    elif len(name) > 200:
        errors["company_name"] = ["Use at most 200 characters."]
    slug = request.slug
    if not SLUG_PATTERN.match(slug) or "--" in slug:
        errors["slug"] = [
            "Use 3 to 40 lower-case letters, digits and single hyphens, starting with a letter "
            "and not ending with a hyphen."
        ]
    elif slug in RESERVED_SLUGS or slug.startswith(("pg-", "spare")):
        errors["slug"] = [f"“{slug}” is reserved; choose another."]
    elif (
        Company.objects.filter(slug=slug).exists()
        or Company.objects.filter(schema_name=schema_name_for(slug)).exists()
        or Domain.objects.filter(domain=host_for(slug)).exists()
    ):
        errors["slug"] = [f"“{slug}” is taken; choose another."]
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

    Returns the company and its admin user. All or nothing: on any failure no schema,
    company row, domain or user is left behind.
    """
    from kpiplatform.accounts.models import Role, User

    validate_signup(request)
    schema_name = schema_name_for(request.slug)
    migrated_schema = False
    try:
        with transaction.atomic():
            company = _claim_spare(schema_name)
            if company is None:
                company = Company(schema_name=schema_name)
            company.name = request.company_name.strip()
            company.slug = request.slug
            company.state = Company.State.ACTIVE
            company.save()
            if company.pk and not _schema_exists(schema_name):
                # Pool empty: migrate a new schema (slow path). DDL is transactional in
                # PostgreSQL, but migrations commit on their own, so clean up below on failure.
                migrated_schema = True
                company.create_schema(check_if_exists=True, verbosity=0)
            Domain.objects.create(domain=host_for(request.slug), tenant=company, is_primary=True)
            with schema_context(schema_name):
                admin = User.objects.create_user(
                    email=request.admin_email.strip(),
                    password=request.admin_password,
                    role=Role.ADMIN,
                )
    except Exception:
        if migrated_schema:
            _drop_schema_if_orphaned(schema_name)
        raise
    return company, admin


def _claim_spare(schema_name: str) -> Company | None:
    """Take one spare schema from the pool and rename it; None if the pool is empty."""
    spare = (
        Company.objects.select_for_update(skip_locked=True)
        .filter(state=Company.State.SPARE)
        .order_by("pk")
        .first()
    )
    if spare is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER SCHEMA "{spare.schema_name}" RENAME TO "{schema_name}"')
    spare.schema_name = schema_name
    return spare


def _schema_exists(schema_name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema_name])
        return cursor.fetchone() is not None


def _drop_schema_if_orphaned(schema_name: str) -> None:
    if Company.objects.filter(schema_name=schema_name).exists():
        return
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE')


def fill_pool(size: int | None = None) -> int:
    """Create spare, fully migrated schemas until the pool holds ``size``; return how many."""
    target = settings.KPI_SIGNUP_POOL_SIZE if size is None else size
    created = 0
    while Company.objects.filter(state=Company.State.SPARE).count() < target:
        schema_name = f"{SPARE_PREFIX}{secrets.token_hex(6)}"
        spare = Company(schema_name=schema_name, name="", state=Company.State.SPARE)
        spare.save()
        try:
            spare.create_schema(check_if_exists=True, verbosity=0)
        except Exception:
            Company.objects.filter(pk=spare.pk).delete()
            _drop_schema_if_orphaned(schema_name)
            raise
        created += 1
    return created


def deactivate_company(company: Company) -> None:
    """Stop serving the company's hosts (they answer 404); keep its schema and data."""
    if company.schema_name == "public":
        raise ValueError("the public schema cannot be deactivated")
    company.state = Company.State.DEACTIVATED
    company.deactivated_at = timezone.now()
    company.save(update_fields=["state", "deactivated_at"])


def reactivate_company(company: Company) -> None:
    company.state = Company.State.ACTIVE
    company.deactivated_at = None
    company.save(update_fields=["state", "deactivated_at"])
