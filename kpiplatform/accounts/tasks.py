"""Housekeeping of one company's sign-in credentials (runs in that company's schema)."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from kpiplatform.accounts.models import Invitation, LoginHandover
from kpiplatform.celery import tenant_task


# Fanned out to every active company by the periodic tick, once an hour: the rows only need
# to go eventually (expired ones are refused when redeemed anyway).
@tenant_task(name="kpiplatform.accounts.tasks.purge_expired_credentials", fan_out_minutes=60)
def purge_expired_credentials() -> dict[str, int]:
    """Delete used or expired login hand-overs and expired, unaccepted invitations.

    Returns how many rows of each kind were deleted.
    """
    now = timezone.now()
    handovers, _ = LoginHandover.objects.filter(
        Q(used_at__isnull=False) | Q(expires_at__lte=now)
    ).delete()
    invitations, _ = Invitation.objects.filter(
        accepted_at__isnull=True, expires_at__lte=now
    ).delete()
    return {"handovers": handovers, "invitations": invitations}
