"""Host names and absolute URLs of companies: ``<slug>.<KPI_BASE_DOMAIN>``.

Used to build links that leave the current request (signup hand-over, e-mails), so they
come from settings, never from the request's Host header.
"""

from django.conf import settings


def host_for(slug: str) -> str:
    return f"{slug}.{settings.KPI_BASE_DOMAIN}"


def company_url(slug: str, path: str = "/") -> str:
    port = f":{settings.KPI_PUBLIC_PORT}" if settings.KPI_PUBLIC_PORT else ""
    return f"{settings.KPI_PUBLIC_SCHEME}://{host_for(slug)}{port}{path}"
