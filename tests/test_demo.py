"""The demo company that `make run` prepares: real data through the real writer and engine."""

from __future__ import annotations

from django.core.management import call_command
from django.db.models import Count

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


def test_the_demo_is_fed_through_the_connectors_from_their_sandboxes(
    db, settings, tmp_path, monkeypatch
):
    """What `make run` does: seeds generated, the three sandboxes served as processes, the demo
    connected to them; its syncs (as the worker runs them) bring every number but the rates."""
    from django.db import connection
    from django.test import Client
    from django_tenants.utils import schema_context
    from kpiplatform_stripe import plugin as stripe_plugin

    from kpiplatform.accounts.models import User
    from kpiplatform.connectors import demo_sandboxes, sync
    from kpiplatform.connectors.models import Connection
    from kpiplatform.data.models import DATASETS
    from kpiplatform.testing.kpis import recompute_all

    settings.DEBUG = True
    connectors = demo_sandboxes.demo_connectors()
    # Each after the one whose seed it reads: HubSpot matches Stripe's customers, GA4 the leads.
    assert [c.key for c in connectors] == ["stripe", "hubspot", "google_analytics"]
    assert demo_sandboxes.generate_seeds(tmp_path, connectors) == [c.key for c in connectors]
    assert demo_sandboxes.generate_seeds(tmp_path, connectors) == []  # made once
    running = demo_sandboxes.start(tmp_path, connectors)
    try:
        for variable, url in demo_sandboxes.addresses(running).items():
            assert url.startswith("http://127.0.0.1:")
            monkeypatch.setenv(variable, url)
        line = call_command("seed_demo", sandbox_seeds=tmp_path)
        assert "http://demo.localhost" in line
        company = Company.objects.get(slug=demo.DEMO_SLUG)
        with schema_context(company.schema_name):
            connections = list(Connection.objects.order_by("connector"))
            assert [c.connector for c in connections] == ["google_analytics", "hubspot", "stripe"]
            for demo_connection in connections:
                sync.run(demo_connection.pk)
                run = demo_connection.runs.first()
                assert run.status == "succeeded", run.error
            recompute_all()
            by_source = {
                name: dict(model.objects.values_list("source").annotate(n=Count("id")).order_by())
                for name, model in DATASETS.items()
            }
            client = Client(HTTP_HOST=f"{demo.DEMO_SLUG}.localhost")
            client.force_login(User.objects.get(email=demo.DEMO_EMAIL))
    finally:
        demo_sandboxes.stop(running)
    # Everything but the exchange rates came through a connector.
    assert by_source["exchange_rates"] == {demo.DEMO_SOURCE: demo.RATE_MONTHS + 1}
    assert by_source["customers"] == {"stripe": stripe_plugin.DEMO_CUSTOMERS}
    assert set(by_source["mrr_segments"]) == {"stripe"}
    assert set(by_source["payments"]) == {"stripe"}
    assert set(by_source["leads"]) == set(by_source["deals"]) == {"hubspot"}
    assert set(by_source["survey_responses"]) == {"hubspot"}
    assert set(by_source["web_traffic"]) == set(by_source["spend"]) == {"google_analytics"}

    connection.set_schema_to_public()
    summary = client.get("/api/v1/kpis/summary/?grain=month")
    assert summary.status_code == 200
    by_key = {row["key"]: row for row in summary.json()["kpis"]}
    for key in ("mrr", "active_customers", "revenue", "cac", "nps", "engagement_rate"):
        assert by_key[key]["current"] is not None, key
    assert float(by_key["mrr"]["current"]["value"]) > 0
