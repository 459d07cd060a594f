"""What the company commands share: finding a company by its address, wording errors."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from kpiplatform.tenants.models import Company


def company_by_slug(slug: str) -> Company:
    """The company at ``slug``, or a CommandError naming it."""
    company = Company.objects.filter(slug=slug.strip().lower()).first()
    if company is None:
        raise CommandError(f"No company has the address “{slug}”.")
    return company


def validation_error_text(exc: ValidationError) -> str:
    """One line per message, prefixed with the field it is about."""
    lines = []
    for field, messages in exc.message_dict.items():
        lines.extend(f"{field}: {message}" for message in messages)
    return "\n".join(lines)
