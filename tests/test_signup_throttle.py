"""Signup is limited per client address, on the page and the API alike (each signup is a schema).

Requests arrive as they do behind the proxy of ``docker/``: from the proxy's address, with
``X-Forwarded-For`` as nginx writes it (the client's own text, then the client's address).
Invalid signups are used to count: every POST counts, and they create nothing.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from kpiplatform.tenants.models import Company

PUBLIC = "localhost"
PROXY = "172.18.0.5"
RATE = 3


@pytest.fixture(autouse=True)
def _three_signups_an_hour_behind_one_proxy(settings):
    settings.KPI_TRUSTED_PROXY_COUNT = 1
    settings.KPI_SIGNUP_RATE = f"{RATE}/hour"
    cache.clear()
    yield
    cache.clear()


def invalid_signup() -> dict:
    return {
        "company_name": "Initech",
        "slug": "in_valid",
        "admin_email": "peter@initech.example",
        "admin_password": "plum-orbit-canyon-77",
    }


def page(address: str, forged: str = "203.0.113.9", data: dict | None = None):
    return Client().post(
        "/signup/",
        data or invalid_signup(),
        HTTP_HOST=PUBLIC,
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=f"{forged}, {address}",
    )


def api(address: str, forged: str = "203.0.113.9", data: dict | None = None):
    return Client().post(
        "/api/v1/signup/",
        data or invalid_signup(),
        content_type="application/json",
        HTTP_HOST=PUBLIC,
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=f"{forged}, {address}",
    )


@pytest.mark.parametrize("door", [page, api], ids=["page", "api"])
def test_forged_forwarded_for_does_not_evade_the_limit(door, db):
    for n in range(RATE):
        assert door("198.51.100.20", forged=f"10.1.1.{n}").status_code == 400
    assert door("198.51.100.20", forged="10.1.1.99").status_code == 429
    # Another client behind the same proxy has its own allowance.
    assert door("198.51.100.21").status_code == 400


def test_the_page_answers_429_with_a_form_error_past_the_limit(db):
    for _ in range(RATE):
        page("198.51.100.22")
    refused = page("198.51.100.22")
    assert refused.status_code == 429
    errors = refused.context["form"].non_field_errors()
    assert len(errors) == 1
    assert "Too many signups from your address" in errors[0]
    assert errors[0] in refused.content.decode()


def test_the_api_answers_429_with_the_wait(db):
    for _ in range(RATE):
        api("198.51.100.23")
    refused = api("198.51.100.23")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    assert int(refused["Retry-After"]) > 0


def test_page_and_api_share_one_allowance(db):
    for door in (page, api, page):
        door("198.51.100.24")
    assert api("198.51.100.24").status_code == 429
    assert page("198.51.100.24").status_code == 429


def test_a_refused_signup_creates_no_company(spare_schemas):
    for _ in range(RATE):
        page("198.51.100.25")
    valid = {**invalid_signup(), "slug": "initech"}
    assert page("198.51.100.25", data=valid).status_code == 429
    assert api("198.51.100.25", data=valid).status_code == 429
    assert not Company.objects.filter(slug="initech").exists()


def test_showing_the_page_does_not_count(db):
    for _ in range(RATE + 2):
        shown = Client().get("/signup/", HTTP_HOST=PUBLIC, REMOTE_ADDR="198.51.100.26")
        assert shown.status_code == 200
    assert (
        Client()
        .post("/signup/", invalid_signup(), HTTP_HOST=PUBLIC, REMOTE_ADDR="198.51.100.26")
        .status_code
        == 400
    )
