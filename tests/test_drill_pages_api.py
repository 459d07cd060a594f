"""The drill-down pages and API, and the customer page and API: every role reads them, the
numbers are the hand-worked ones of kpiplatform/testing/drill_example.py, and nothing of one
company is reachable from another."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection

from kpiplatform.testing.companies import ROLES
from kpiplatform.testing.drill_example import FEBRUARY_CHURN, FEBRUARY_MOVEMENTS

CHURN_PAGE = "/kpis/mrr_movements/drill/?period=2025-02-01&grain=month&kind=churn"
CHURN_API = "/api/v1/kpis/mrr_movements/drill/?period=2025-02-01&grain=month&kind=churn"


# The modules reading the drill example run on one worker, which computes it once.
pytestmark = pytest.mark.xdist_group("drill-example")


@pytest.fixture
def example(drill_example_company, db):
    """The example's company (tests/conftest.py); each test's writes are rolled back."""
    return drill_example_company


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_churn_drill_with_the_hand_worked_numbers(example, role):
    body = example.client(role).get(CHURN_API).json()
    assert body["period"] == {"label": "2025-02", "start": "2025-02-01", "end": "2025-03-01"}
    assert {row["customer_ref"]: Decimal(row["amount"]) for row in body["results"]} == (
        FEBRUARY_CHURN
    )
    assert body["count"] == 2
    assert body["totals"] == {"count": 2, "amount": "-240"}
    rec = body["reconciliation"]
    assert Decimal(rec["mrr_start"]) == FEBRUARY_MOVEMENTS["mrr_start"]
    assert {kind: Decimal(line["amount"]) for kind, line in rec["movements"].items()} == {
        kind: FEBRUARY_MOVEMENTS[kind]
        for kind in ("new", "reactivation", "expansion", "contraction", "churn")
    }
    assert Decimal(rec["mrr_end"]) == FEBRUARY_MOVEMENTS["mrr_end"]
    assert rec["matches_stored"] is True
    assert body["results"][0]["customer_url"] == "/customers/import/B/"


def test_the_api_paginates_and_the_csv_holds_the_whole_list(example):
    client = example.client("viewer")
    first = client.get("/api/v1/kpis/revenue/drill/?period=2025-02-01&page_size=2").json()
    assert first["count"] == 5 and len(first["results"]) == 2
    assert "page=2" in first["next"] and first["previous"] is None
    last = client.get(first["next"].replace("page=2", "page=3")).json()
    assert len(last["results"]) == 1 and last["next"] is None
    response = client.get("/api/v1/kpis/revenue/drill.csv?period=2025-02-01")
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        'attachment; filename="revenue_payments_month_2025-02.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    net = sum(Decimal(row["amount"]) * (-1 if row["kind"] == "refund" else 1) for row in rows)
    assert len(rows) == 5 and net == Decimal("222.50")


@pytest.mark.parametrize(
    ("query", "field"),
    [("period=2025-13-01", "period"), ("period=2025-02-01&kind=up", "kind"), ("grain=x", "grain")],
)
def test_bad_parameters_are_a_400_naming_the_parameter(example, query, field):
    response = example.client("viewer").get(f"/api/v1/kpis/churned_mrr/drill/?{query}")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    page = example.client("viewer").get(f"/kpis/churned_mrr/drill/?{query}")
    assert page.status_code == 400
    assert "cannot be opened" in page.content.decode()


def test_a_kpi_without_a_drill_is_404(example):
    assert example.client().get("/api/v1/kpis/nps/drill/?period=2025-02-01").status_code == 404
    assert example.client().get("/kpis/nps/drill/?period=2025-02-01").status_code == 404


def test_the_drill_page_shows_the_reconciliation_and_links_each_customer(example):
    response = example.client("viewer").get(CHURN_PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "MRR at the start + movements = MRR at the end" in html
    assert "✓ Every line matches the stored KPI values." in html
    assert 'href="/customers/import/B/"' in html and 'href="/customers/import/F/"' in html
    assert "Bravo SA (B)" in html and "Alpha Ltd" not in html
    assert "2 movements, summing to EUR -240.00" in html
    assert (
        'href="/api/v1/kpis/mrr_movements/drill.csv?period=2025-02-01&amp;grain=month'
        "&amp;list=movements&amp;kind=churn" in html
    )


def test_the_kpi_page_links_every_period_to_its_drill(example):
    response = example.client("viewer").get("/kpis/churned_mrr/")
    html = response.content.decode()
    assert 'href="/kpis/churned_mrr/drill/?grain=month&amp;period=2025-02-01"' in html
    # The chart's points open the same page (kpi_chart.js).
    spec = response.context["spec"]
    assert spec["usermeta"]["drill"] == "/kpis/churned_mrr/drill/?grain=month&period="
    assert {point["start"] for point in spec["data"]["values"]} >= {"2025-02-01"}
    # A KPI without a drill-down has no such column.
    assert "Drill down" not in example.client().get("/kpis/nps/").content.decode()


def test_every_drill_of_the_registry_opens(example):
    from kpiplatform.kpis.drill import DRILLS

    client = example.client("viewer")
    for key, drill in DRILLS.items():
        for list_name in drill.lists:
            url = f"/kpis/{key}/drill/?period=2025-02-01&list={list_name}"
            assert client.get(url).status_code == 200, url
        segment = client.get(
            f"/kpis/{key}/drill/?period=2025-02-01&segment_kind=channel&segment=google"
        )
        assert segment.status_code in (200, 400), key


def test_the_customer_page_and_api_show_segments_movements_payments_and_records(example):
    for role in ROLES:
        body = example.client(role).get("/api/v1/customers/import/A/").json()
        assert body["name"] == "Alpha Ltd"
    assert body["segments"] == {"country": "FR", "channel": "google", "campaign": "unknown"}
    assert Decimal(body["mrr_now"]) == Decimal(150)
    assert [(m["day"], m["kind"], Decimal(m["amount"])) for m in body["movements"]] == [
        ("2025-02-10", "expansion", Decimal(50)),
        ("2025-01-01", "new", Decimal(100)),
    ]
    assert {p["external_id"] for p in body["payments"]} == {"pay-a-1", "order-a-1", "refund-a-1"}
    datasets = {group["dataset"]: group["count"] for group in body["records"]}
    assert datasets == {"mrr_segments": 2, "payments": 3}
    d = example.client("viewer").get("/api/v1/customers/import/D/").json()
    assert [lead["external_id"] for lead in d["leads"]] == ["lead-1"]
    html = example.client("viewer").get("/customers/import/A/").content.decode()
    assert "Alpha Ltd" in html and "pay-a-1" in html and "EUR 150.00" in html


def test_unknown_customers_are_404(example):
    assert example.client().get("/customers/import/nobody/").status_code == 404
    assert example.client().get("/api/v1/customers/import/nobody/").status_code == 404


def test_another_company_sees_none_of_the_drill_or_the_customer(example, globex):
    # Globex has no data: its own drill is empty, and acme's customer does not exist there.
    own = globex.client("admin").get(CHURN_API).json()
    assert own["results"] == [] and own["reconciliation"]["mrr_start"] == "0"
    assert globex.client("admin").get("/api/v1/customers/import/B/").status_code == 404
    assert globex.client("admin").get("/customers/import/B/").status_code == 404
    # Acme's session on globex's host is no login there.
    crossing = example.client("admin").get(CHURN_API, HTTP_HOST=globex.host)
    assert crossing.status_code in (401, 403)
    page = example.client("admin").get("/customers/import/B/", HTTP_HOST=globex.host)
    assert page.status_code == 302 and "/login/" in page["Location"]
    assert example.client(None).get(CHURN_API).status_code in (401, 403)


def test_a_token_of_one_company_reads_its_drill_and_nothing_of_another(example, globex):
    from kpiplatform.accounts.models import ApiToken

    with example.activate():
        _, token = ApiToken.issue(example.user("viewer"), "drill test")
    connection.set_schema_to_public()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    mine = example.client(None).get(CHURN_API, **auth)
    assert mine.status_code == 200 and mine.json()["count"] == 2
    theirs = globex.client(None).get(CHURN_API, **auth)
    assert theirs.status_code == 401
