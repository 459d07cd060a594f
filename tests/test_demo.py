"""The demo company that `make run` prepares: real data through the real writer and engine."""

from __future__ import annotations

from django.core.management import call_command

from kpiplatform.kpis.models import StoredKPIValue
from kpiplatform.tenants.models import Company
from kpiplatform.web import demo


def test_seed_demo_creates_a_company_with_computed_kpis_once(db, settings):
    settings.DEBUG = True
    line = call_command("seed_demo")
    assert "http://demo.localhost" in line
    for role in ("admin", "analyst", "viewer"):  # each role's login is printed
        assert any(
            role in row and "@example.com" in row and demo.DEMO_PASSWORD in row
            for row in line.splitlines()
        ), role
    company = Company.objects.get(slug=demo.DEMO_SLUG)
    client_host = f"{demo.DEMO_SLUG}.localhost"

    from django.db import connection
    from django.test import Client
    from django_tenants.utils import schema_context

    from kpiplatform.accounts.models import User

    client = Client(HTTP_HOST=client_host)
    with schema_context(company.schema_name):
        admin = User.objects.get(email=demo.DEMO_EMAIL)
        assert admin.check_password(demo.DEMO_PASSWORD) and admin.is_admin
        for role, email in demo.DEMO_USERS:
            assert f"{email} / {demo.DEMO_PASSWORD}" in line
            user = User.objects.get(email=email)
            assert user.role == role and user.check_password(demo.DEMO_PASSWORD)
        client.force_login(admin)
    connection.set_schema_to_public()
    summary = client.get("/api/v1/kpis/summary/?grain=month")
    assert summary.status_code == 200
    by_key = {row["key"]: row for row in summary.json()["kpis"]}
    for key in ("mrr", "active_customers", "revenue", "cac", "nps", "engagement_rate"):
        assert by_key[key]["current"] is not None, key
    assert float(by_key["mrr"]["current"]["value"]) > 0
    home = client.get("/")
    assert home.status_code == 200
    page = home.content.decode()
    assert "No data yet" not in page
    assert "Net revenue retention" in page or "NRR" in page
    assert "USD " in page and " %" in page

    with schema_context(company.schema_name):
        stored = StoredKPIValue.objects.count()
    assert call_command("seed_demo") == line  # already there: nothing is added
    with schema_context(company.schema_name):
        assert StoredKPIValue.objects.count() == stored


def test_no_demo_company_in_production(db, settings):
    settings.DEBUG = False
    assert call_command("seed_demo") == ""
    assert not Company.objects.filter(slug=demo.DEMO_SLUG).exists()
