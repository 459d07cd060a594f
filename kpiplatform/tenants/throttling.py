"""How often one client address may sign up: ``KPI_SIGNUP_RATE``, the page and the API together.

Each signup takes a schema, so the limit is per client address (the one function of
``kpiplatform.client_address``) and shared by both doors: one allowance, one cache key.
Any further throttle must key by ``client_address`` too: DRF's own ``get_ident`` believes
``X-Forwarded-For`` as the client sent it.
"""

from __future__ import annotations

import math

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from kpiplatform.client_address import client_address


class SignupThrottle(SimpleRateThrottle):
    """DRF's rate throttle (cache-backed, sliding window), keyed by the client address.

    Every attempt counts, valid or not, logged in or not: the API uses it as a throttle
    class, the page through :func:`signup_wait_seconds`.
    """

    scope = "signup"

    def get_rate(self) -> str:
        return settings.KPI_SIGNUP_RATE

    def get_ident(self, request) -> str:
        return client_address(request)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def signup_wait_seconds(request) -> int | None:
    """Count one signup attempt of this client; None if allowed, else seconds to wait."""
    throttle = SignupThrottle()
    if throttle.allow_request(request, None):
        return None
    return max(1, math.ceil(throttle.wait() or 1))
