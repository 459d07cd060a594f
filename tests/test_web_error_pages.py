"""The 403, 404 and 500 pages: styled like the app, saying why, with DEBUG off."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory, override_settings
from django.views.defaults import server_error

pytestmark = pytest.mark.usefixtures("_debug_off")


@pytest.fixture
def _debug_off():
    with override_settings(DEBUG=False):
        yield


def _page(response) -> str:
    page = response.content.decode()
    assert 'href="/static/kpiplatform/app.css"' in page or "app.css" in page  # the app's layout
    return page


def test_a_missing_page_on_a_company_host_says_what_is_missing(acme):
    response = acme.client("viewer").get("/no-such-page/")

    assert response.status_code == 404
    page = _page(response)
    assert "Not found" in page
    assert "/no-such-page/" in page
    assert acme.company.name in page  # the member sees the company's own header


def test_a_missing_kpi_says_which_key(acme):
    response = acme.client("viewer").get("/kpis/not_a_kpi/")

    assert response.status_code == 404
    assert "No KPI with key &#x27;not_a_kpi&#x27;." in _page(response)


@pytest.mark.django_db
def test_a_missing_page_on_the_public_host(acme):
    response = Client().get("/nothing-here/", HTTP_HOST="localhost:8000")

    assert response.status_code == 404
    page = _page(response)
    assert "There is nothing at <code>/nothing-here/</code> on this host." in page
    assert 'href="/signup/"' in page


@pytest.mark.django_db
def test_an_unknown_company_host_gets_the_styled_404(acme):
    response = Client().get("/", HTTP_HOST="nobody.localhost:8000")

    assert response.status_code == 404
    assert "Not found" in _page(response)


def test_a_stranger_is_not_told_whose_host_it_is(acme):
    response = acme.client(None).get("/no-such-page/")

    assert response.status_code == 404
    page = _page(response)
    assert "/no-such-page/" in page
    assert acme.company.name not in page


def test_a_member_without_the_role_is_told_which_role_it_needs(acme):
    response = acme.client("viewer").get("/settings/")

    assert response.status_code == 403
    page = _page(response)
    assert "This needs the Admin role." in page
    assert "Ask an admin of" in page


def test_a_form_posted_without_its_csrf_token_is_explained(acme):
    client = acme.client("viewer", enforce_csrf_checks=True)

    response = client.post("/tokens/", {"name": "x", "access": "read"})

    assert response.status_code == 403
    assert "Form not accepted" in _page(response)


def test_the_500_page_renders_without_a_database_or_a_request_context():
    # No db fixture: pytest-django refuses any query this template might make.
    response = server_error(RequestFactory().get("/"))

    assert response.status_code == 500
    page = _page(response)
    assert "Something went wrong on our side" in page
    assert "the error was logged" in page
