"""The address of the client that sent a request: the one function every limit counts by.

Login lockouts (django-axes, through ``AXES_CLIENT_IP_CALLABLE``) and the signup throttles of
the page and the API all call :func:`client_address`, so they agree on who a client is.

Behind ``KPI_TRUSTED_PROXY_COUNT`` reverse proxies, ``REMOTE_ADDR`` is the nearest proxy and
the client is read from ``X-Forwarded-For``. Each proxy appends the address it received the
request from (nginx: ``proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for``), so with
one proxy the header reads ``<whatever the client sent>, <client>``: the client is the
rightmost entry, one more from the right per further proxy, and everything to its left is
the client's own text. The leftmost entry, which many libraries pick, is therefore forgeable.

django-ipware is not used for this: it reads the header differently across its major
versions (9.0 changed ``proxy_count`` again); this function says exactly what is trusted.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The client's IP address behind the configured number of trusted proxies.

    Falls back to ``REMOTE_ADDR`` when the header has fewer entries than there are trusted
    proxies, or the entry is not an IP address: then the request did not come through all of
    them, and nothing in the header can be trusted.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.KPI_TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    entries = [entry.strip() for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(entries) < proxies:
        return remote
    candidate = entries[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
