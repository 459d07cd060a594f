"""The public host answers on its development addresses and links to company hosts."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.test import Client, override_settings

STRONG_PASSWORD = "plum-orbit-canyon-77"


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "127.0.0.1", "localhost"])
def test_landing_page_answers_on_each_development_address(host):
    response = Client().get("/", HTTP_HOST=host)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Know how your revenue engine is doing." in page
    assert 'href="/signup/"' in page
    assert Client().get("/signup/", HTTP_HOST=host).status_code == 200


@override_settings(KPI_PUBLIC_PORT="8000", KPI_PUBLIC_SCHEME="http")
def test_signup_from_127_0_0_1_hands_over_to_the_company_on_localhost(spare_schemas):
    response = Client().post(
        "/signup/",
        {
            "company_name": "Initech LLC",
            "slug": "initech",
            "admin_email": "peter@initech.example",
            "admin_password": STRONG_PASSWORD,
        },
        HTTP_HOST="127.0.0.1:8000",
    )

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert (location.scheme, location.netloc) == ("http", "initech.localhost:8000")


@pytest.mark.django_db
def test_an_unknown_host_is_still_not_found():
    assert Client().get("/", HTTP_HOST="nobody.localhost:8000").status_code == 404
    assert Client().get("/", HTTP_HOST="10.0.0.7:8000").status_code in (400, 404)


@pytest.mark.django_db
@override_settings(KPI_PUBLIC_HOST_ALIASES=[])
def test_without_aliases_127_0_0_1_is_not_the_public_host():
    assert Client().get("/", HTTP_HOST="127.0.0.1:8000").status_code == 404
