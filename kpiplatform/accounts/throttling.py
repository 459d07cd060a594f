"""How many password-reset e-mails one account receives: ``KPI_PASSWORD_RESET_RATE``.

Anyone may ask for a reset of any address, so without a limit the page mails an account as
often as someone posts its address. The limit is per account (the client address does not
matter: asking from many addresses is as easy as from one), and the page answers the same
whether a mail went out or not.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class PasswordResetThrottle(SimpleRateThrottle):
    """DRF's rate throttle (cache-backed, sliding window) keyed by the account.

    Cache keys are prefixed by company (``django_tenants.cache.make_key``), so equal user ids
    of two companies never share a count.
    """

    scope = "password_reset"

    def __init__(self, user) -> None:
        self.user = user
        super().__init__()

    def get_rate(self) -> str:
        return settings.KPI_PASSWORD_RESET_RATE

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.user.pk}


def may_send_password_reset(user) -> bool:
    """Count one reset e-mail for ``user``; False once the account is past its limit."""
    return PasswordResetThrottle(user).allow_request(None, None)
