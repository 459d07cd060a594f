"""Hand a user over from the public host to their company host, logged in.

Cookies are per host, so a session made on the public host means nothing on
``<slug>.<base>``. Signup issues a one-time ticket (random, 60 s, stored hashed in the
company's own schema) and redirects to the company host, which exchanges it for a session.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.utils import timezone
from django_tenants.utils import schema_context

from kpiplatform.accounts.models import LoginHandover, hash_secret
from kpiplatform.hosts import company_url

HANDOVER_TTL = timedelta(seconds=60)


def issue_handover_url(schema_name: str, slug: str, user) -> str:
    raw = secrets.token_urlsafe(32)
    with schema_context(schema_name):
        LoginHandover.objects.create(
            user=user, token_hash=hash_secret(raw), expires_at=timezone.now() + HANDOVER_TTL
        )
    return company_url(slug, f"/auth/handover/?ticket={raw}")


def redeem(raw: str):
    """Return the user the ticket was issued for, once; None if unknown, used or expired.

    Runs in the company schema of the request, so a ticket of one company is unknown to
    every other company.
    """
    if not raw:
        return None
    now = timezone.now()
    claimed = LoginHandover.objects.filter(
        token_hash=hash_secret(raw), used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if not claimed:
        return None
    return LoginHandover.objects.select_related("user").get(token_hash=hash_secret(raw)).user
