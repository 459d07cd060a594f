"""Signup on the public host, over the page and the API, and the hand-over to the company host."""

from __future__ import annotations

import html
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from kpiplatform.accounts.models import LoginHandover
from kpiplatform.tenants.models import Company
from kpiplatform.testing.companies import database_footprint

PUBLIC = "localhost"
STRONG_PASSWORD = "plum-orbit-canyon-77"


def signup_data(**overrides) -> dict:
    data = {
        "company_name": "Initech LLC",
        "slug": "initech",
        "admin_email": "Peter@Initech.example",
        "admin_password": STRONG_PASSWORD,
    }
    data.update(overrides)
    return data


def follow_handover(url: str) -> tuple[Client, object]:
    """Open a hand-over URL on the host it names, as a browser would; return client, response."""
    parts = urlsplit(url)
    client = Client(HTTP_HOST=parts.netloc)
    return client, client.get(f"{parts.path}?{parts.query}")


@pytest.fixture(autouse=True)
def _fresh_throttle():
    # The signup API is throttled per address; each test starts with a clean count.
    cache.clear()
    yield
    cache.clear()


def test_signup_page_creates_the_company_and_logs_the_admin_in_on_its_host(spare_schemas):
    response = Client().post("/signup/", signup_data(), HTTP_HOST=PUBLIC)

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.hostname == "initech.localhost"
    assert location.path == "/auth/handover/"
    company_client, handed_over = follow_handover(response["Location"])
    assert handed_over.status_code == 302
    home = company_client.get("/")
    assert home.status_code == 200
    assert "Initech LLC" in home.content.decode()
    with schema_context("initech"):
        me = company_client.get("/api/v1/me/")
    assert me.status_code == 200
    assert "peter@initech.example" in me.content.decode()


def test_signup_takes_a_spare_schema_from_the_pool(spare_schemas):
    taken = spare_schemas[0]

    Client().post("/signup/", signup_data(), HTTP_HOST=PUBLIC)

    company = Company.objects.get(slug="initech")
    assert company.pk == taken.pk
    assert company.schema_name == "initech"
    assert company.state == Company.State.ACTIVE
    assert Company.objects.filter(state=Company.State.SPARE).count() == len(spare_schemas) - 1


def test_handover_ticket_works_once(spare_schemas):
    url = Client().post("/signup/", signup_data(), HTTP_HOST=PUBLIC)["Location"]

    _, first = follow_handover(url)
    second_client, second = follow_handover(url)

    assert first.status_code == 302
    assert second.status_code == 400
    assert second_client.get("/").status_code == 302  # still anonymous: sent to log in


def test_expired_handover_ticket_is_refused(spare_schemas):
    url = Client().post("/signup/", signup_data(), HTTP_HOST=PUBLIC)["Location"]
    with schema_context("initech"):
        LoginHandover.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    client, response = follow_handover(url)

    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert client.get("/").status_code == 302


def test_handover_ticket_of_one_company_is_refused_on_another(spare_schemas, acme):
    url = Client().post("/signup/", signup_data(), HTTP_HOST=PUBLIC)["Location"]
    parts = urlsplit(url)
    on_acme = Client(HTTP_HOST=acme.host)

    response = on_acme.get(f"{parts.path}?{parts.query}")

    assert response.status_code == 400
    assert on_acme.get("/").status_code == 302
    # The ticket was not spent by the attempt: its own company still accepts it.
    assert follow_handover(url)[1].status_code == 302


def test_signup_api_returns_201_with_the_company_and_login_urls(spare_schemas):
    response = Client().post(
        "/api/v1/signup/", signup_data(), content_type="application/json", HTTP_HOST=PUBLIC
    )

    assert response.status_code == 201
    body = response.json()
    assert body["slug"] == "initech"
    assert body["url"] == "http://initech.localhost:8000/"
    assert body["login_url"].startswith("http://initech.localhost:8000/auth/handover/?ticket=")
    assert "admin_password" not in body
    client, handed_over = follow_handover(body["login_url"])
    assert handed_over.status_code == 302
    assert "Initech LLC" in client.get("/").content.decode()


INVALID = [
    pytest.param({"slug": "in_itech"}, "slug", "lower-case letters", id="slug-underscore"),
    pytest.param({"slug": "-initech"}, "slug", "starting with a letter", id="slug-leading-hyphen"),
    pytest.param({"slug": "initech-"}, "slug", "not ending with a hyphen", id="slug-end-hyphen"),
    pytest.param({"slug": "in--itech"}, "slug", "single hyphens", id="slug-double-hyphen"),
    pytest.param({"slug": "ab"}, "slug", "3 to 40", id="slug-too-short"),
    pytest.param({"slug": "9lives"}, "slug", "starting with a letter", id="slug-digit-first"),
    pytest.param({"slug": "admin"}, "slug", "“admin” is reserved", id="reserved-admin"),
    pytest.param({"slug": "www"}, "slug", "“www” is reserved", id="reserved-www"),
    pytest.param({"slug": "spare-pool"}, "slug", "is reserved", id="reserved-spare-prefix"),
    pytest.param({"slug": "pg-catalog"}, "slug", "is reserved", id="reserved-pg-prefix"),
    pytest.param({"slug": "acme"}, "slug", "“acme” is taken", id="taken"),
    pytest.param({"admin_password": "Zq7!x"}, "admin_password", "too short", id="pw-short"),
    pytest.param({"admin_password": "password123"}, "admin_password", "too common", id="pw-common"),
    pytest.param(
        {"admin_password": "48213907714"}, "admin_password", "entirely numeric", id="pw-numeric"
    ),
    pytest.param(
        {"admin_email": "peter.gibbons@initech.example", "admin_password": "peter.gibbons"},
        "admin_password",
        "too similar",
        id="pw-like-email",
    ),
    pytest.param({"admin_email": "peter@"}, "admin_email", "valid email", id="bad-email"),
    pytest.param({"company_name": ""}, "company_name", "", id="empty-name"),
    pytest.param({"company_name": "   "}, "company_name", "", id="blank-name"),
    # A name lands in e-mail subjects: a line break there is a header injection (and made
    # every invitation of the company fail).
    pytest.param(
        {"company_name": "Initech\r\nBcc: all@example.test"},
        "company_name",
        "line breaks",
        id="name-with-crlf",
    ),
    pytest.param({"company_name": "Initech\nLLC"}, "company_name", "line breaks", id="name-lf"),
    pytest.param(
        {"company_name": "Initech\u2028LLC"}, "company_name", "line breaks", id="name-u2028"
    ),
    pytest.param({"company_name": "Init\x07ech"}, "company_name", "control", id="name-bell"),
]


@pytest.mark.parametrize(("overrides", "field", "message"), INVALID)
def test_invalid_signup_page_shows_the_reason_and_creates_nothing(
    spare_schemas, acme, overrides, field, message
):
    before = database_footprint()

    response = Client().post("/signup/", signup_data(**overrides), HTTP_HOST=PUBLIC)

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message in " ".join(errors[field])
    assert html.escape(errors[field][0]) in response.content.decode()
    assert database_footprint() == before


@pytest.mark.parametrize(("overrides", "field", "message"), INVALID)
def test_invalid_signup_api_answers_400_with_the_reason_and_creates_nothing(
    spare_schemas, acme, overrides, field, message
):
    before = database_footprint()

    response = Client().post(
        "/api/v1/signup/",
        signup_data(**overrides),
        content_type="application/json",
        HTTP_HOST=PUBLIC,
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["fields"]) == [field]
    assert message in " ".join(error["fields"][field])
    assert error["message"].startswith(f"{field}: ")
    assert database_footprint() == before


def test_signup_api_is_only_on_the_public_host(acme):
    response = Client().post(
        "/api/v1/signup/", signup_data(), content_type="application/json", HTTP_HOST=acme.host
    )

    assert response.status_code in (401, 403, 404, 405)
    assert not Company.objects.filter(slug="initech").exists()
