"""Login lockouts that target the attacker: the (account, address) pair, and the address.

django-axes counts failed logins per ``AXES_LOCKOUT_PARAMETERS`` group and locks a request
when any group reaches the one ``AXES_FAILURE_LIMIT``. We want two limits:

- ``AXES_FAILURE_LIMIT`` failures of one account from one address lock that pair only, so
  someone who knows an e-mail address cannot lock its owner out from elsewhere;
- ``KPI_LOGIN_ADDRESS_FAILURE_LIMIT`` failures from one address, over any accounts, lock the
  address (password spraying), a higher number because an office or a carrier NAT shares one.

axes keeps the pair as its only lockout group (so a successful login clears the pair alone,
never the address's count); this handler adds the address count to the decision.
"""

from __future__ import annotations

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum


class AccountAndAddressLockout(AxesDatabaseHandler):
    """The database handler of axes, with a separate, higher limit for one address."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        pair_failures = super().get_failures(request, credentials)
        recent = AccessAttempt.objects.filter(
            ip_address=request.axes_ip_address,
            attempt_time__gte=get_cool_off_threshold(request),
        )
        address_failures = recent.aggregate(total=Sum("failures_since_start"))["total"] or 0
        if address_failures >= settings.KPI_LOGIN_ADDRESS_FAILURE_LIMIT:
            # axes compares this number with AXES_FAILURE_LIMIT: report the address as locked.
            return max(pair_failures, settings.AXES_FAILURE_LIMIT)
        return pair_failures
