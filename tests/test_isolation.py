"""Tenant isolation: nothing of one company is reachable from another, through any URL.

Every URL the project routes on a company host is listed from the URL resolver, so new pages
and API endpoints are covered without editing this file. Each is requested on globex's host
with acme's session cookie and with acme's API token, by every HTTP method; none may succeed
or show anything of globex.
"""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from kpiplatform.tenants import provisioning

TENANT_URLCONF = "kpiplatform.urls"
METHODS = ("get", "post", "put", "patch", "delete")
# Pages anyone may open (they hold no company data): they may answer 200 to a stranger.
PUBLIC_PAGES = re.compile(
    r"^/(login|logout|password-reset|reset|invitations/accept|auth/handover|static)(/|$)"
)
DENIED = {401, 403, 404, 405}


def _concrete_paths(resolver: URLResolver, prefix: str = "") -> list[str]:
    """Every route of ``resolver`` with its parameters filled by a plausible value."""
    paths = []
    for entry in resolver.url_patterns:
        pattern = prefix + _route_of(entry)
        if isinstance(entry, URLResolver):
            paths.extend(_concrete_paths(entry, pattern))
        elif isinstance(entry, URLPattern):
            paths.append("/" + pattern)
    return sorted(set(paths))


def _route_of(entry) -> str:
    route = str(entry.pattern)
    # path() converters: <int:pk>, <str:key>, <slug:x>, <uuid:u>, <path:p>
    route = re.sub(r"<int:\w+>", "1", route)
    route = re.sub(r"<uuid:\w+>", "00000000-0000-0000-0000-000000000001", route)
    route = re.sub(r"<(?:\w+:)?\w+>", "1", route)
    # re_path() / DRF router patterns
    route = re.sub(r"\(\?P<format>[^)]*\)", "json", route)
    route = re.sub(r"\(\?P<\w+>[^)]*\)", "1", route)
    route = route.replace("^", "").replace("$", "").replace("\\.", ".").replace("\\", "")
    return route.replace("?", "")


def company_paths() -> list[str]:
    return _concrete_paths(get_resolver(TENANT_URLCONF))


def _globex_markers(globex, public_page: bool) -> list[str]:
    markers = [globex.email(role) for role in ("admin", "analyst", "viewer")]
    if not public_page:
        # A company's own login page names it; nothing else may.
        markers.append(globex.company.name)
    return markers


def _assert_nothing_of(globex, response, what: str, public_page: bool = False) -> None:
    body = response.content.decode(errors="replace")
    for marker in _globex_markers(globex, public_page):
        assert marker not in body, f"{what} showed {marker!r} of globex"


def test_the_resolver_lists_the_api_and_the_pages():
    paths = company_paths()
    assert "/" in paths
    assert "/api/v1/me/" in paths
    assert "/login/" in paths


@pytest.mark.parametrize("path", company_paths())
def test_acme_session_gets_nothing_on_globex_host(acme, globex, path):
    client = acme.client("admin")  # a logged-in acme admin; the cookie is replayed on globex
    for method in METHODS:
        response = getattr(client, method)(path, HTTP_HOST=globex.host)
        what = f"{method.upper()} {path} with acme's session"
        public_page = bool(PUBLIC_PAGES.match(path))
        _assert_nothing_of(globex, response, what, public_page)
        if public_page:
            continue
        if response.status_code == 302:
            assert response["Location"].startswith("/login/"), what
        else:
            assert response.status_code in DENIED, f"{what}: {response.status_code}"


@pytest.mark.parametrize("path", [p for p in company_paths() if p.startswith("/api/")])
def test_acme_token_gets_nothing_on_globex_host(acme, globex, path):
    from kpiplatform.accounts.models import ApiToken

    with acme.activate():
        _, raw = ApiToken.issue(acme.user("admin"), "isolation", read_only=False)
    client = acme.client(role=None)
    for method in METHODS:
        response = getattr(client, method)(
            path, HTTP_HOST=globex.host, HTTP_AUTHORIZATION=f"Bearer {raw}"
        )
        what = f"{method.upper()} {path} with acme's token"
        _assert_nothing_of(globex, response, what)
        assert response.status_code in DENIED, f"{what}: {response.status_code}"


def test_deactivated_company_answers_404_on_every_url(globex):
    client = globex.client("admin")
    provisioning.deactivate_company(globex.company)
    for path in company_paths():
        response = client.get(path, HTTP_HOST=globex.host)
        assert response.status_code == 404, path
        _assert_nothing_of(globex, response, f"GET {path} of a deactivated company")


def test_company_tables_do_not_exist_in_the_public_schema(db):
    """A request or task that lost its schema fails loudly instead of writing into public."""
    from django.db import connection, transaction
    from django.db.utils import ProgrammingError

    from kpiplatform.accounts.models import User

    connection.set_schema_to_public()
    with pytest.raises(ProgrammingError), transaction.atomic():
        User.objects.create_user(email="stray@example.test", password="x")
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        public_tables = {row[0] for row in cursor.fetchall()}
    assert public_tables == {"django_migrations", "tenants_company", "tenants_domain"}
