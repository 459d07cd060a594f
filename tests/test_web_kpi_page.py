"""The KPI page: the stored series of one KPI as a chart and a table, its definition, the
reasons for missing values, its breakdowns and the CSV download.

The browser test drives Debian's Chromium through Playwright (kpiplatform/testing/browser.py)
against the app on a live server, in a company of its own with committed data.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from kpiplatform.kpis.models import StoredKPIValue
from kpiplatform.testing.companies import PASSWORD
from kpiplatform.testing.data import load_records
from kpiplatform.testing.kpis import (
    WORKED_EXAMPLE_SEGMENTS,
    configure_company,
    recompute_all,
    stored_values,
)
from kpiplatform.testing.shared import shared_company

COUNTRIES = {"A": "FR", "B": "FR", "C": "DE", "D": "DE", "E": "FR"}


def load_worked_example() -> None:
    """The MRR worked example with customers in two countries, every KPI computed."""
    configure_company("EUR", "UTC")
    load_records("customers", [{"external_id": c, "country": k} for c, k in COUNTRIES.items()])
    load_records("mrr_segments", WORKED_EXAMPLE_SEGMENTS)


def computed_worked_example() -> None:
    load_worked_example()
    recompute_all()


# One worker runs the module, so the worked example is computed once.
pytestmark = pytest.mark.xdist_group("web-kpi-page")


@pytest.fixture(scope="module")
def worked_example_company(standing_companies, django_db_blocker):
    """A company of its own with the worked example committed and every KPI computed, once
    for the module's tests, which only read it (the live server too)."""
    with shared_company(django_db_blocker, "KPI Page Co", computed_worked_example) as company:
        yield company


@pytest.fixture
def worked_example(worked_example_company, db):
    """The worked example's company; what a test writes there is rolled back."""
    return worked_example_company


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def money_in(text: str) -> Decimal:
    """The amount in a cell such as ``EUR 1,234.50``."""
    match = re.search(r"-?[\d,]+\.\d+", text)
    assert match, f"no amount in {text!r}"
    return Decimal(match.group().replace(",", ""))


# --- the page, through Django's test client ------------------------------------------------


def test_kpi_page_shows_the_stored_series_and_the_breakdown_by_country(worked_example):
    client = worked_example.client("viewer")
    response = client.get(reverse("kpi", args=["mrr"]))
    assert response.status_code == 200
    page = response.context["page"]
    with worked_example.activate():
        stored = stored_values("mrr")
    assert [row["period_start"] for row in page.rows] == sorted(stored)
    assert {row["period"]: row["value"] for row in page.rows}["2025-03"] == Decimal(320)
    html = response.content.decode()
    assert "EUR 320.00" in html
    # The breakdown of the last period lists the countries that exist, and only those.
    (country,) = [b for b in page.breakdowns if b.kind == "country"]
    assert {row["segment"] for row in country.rows} == {"FR", "DE"}
    assert 'href="/api/v1/kpis/mrr/series.csv?grain=month"' in html
    assert "vega-embed-full.js" in html


def test_home_links_every_kpi_to_its_page(worked_example):
    response = worked_example.client("analyst").get("/")
    html = response.content.decode()
    dashboard = response.context["dashboard"]
    keys = [row.kpi.key for row in dashboard.cards + dashboard.others]
    assert keys
    for key in keys:
        assert f'href="/kpis/{key}/"' in html


def test_grain_switches_the_series_and_an_unknown_grain_is_a_clear_400(worked_example):
    client = worked_example.client("viewer")
    quarter = client.get(reverse("kpi", args=["mrr"]), {"grain": "quarter"})
    assert quarter.status_code == 200
    assert {row["period"]: row["value"] for row in quarter.context["page"].rows}[
        "2025-Q1"
    ] == Decimal(320)
    bad = client.get(reverse("kpi", args=["mrr"]), {"grain": "fortnight"})
    assert bad.status_code == 400
    assert "Unknown grain &#x27;fortnight&#x27;" in bad.content.decode()


def test_unknown_kpi_is_404_and_anonymous_users_are_sent_to_log_in(worked_example):
    assert worked_example.client("viewer").get("/kpis/no_such_kpi/").status_code == 404
    anonymous = worked_example.client(None).get(reverse("kpi", args=["mrr"]))
    assert anonymous.status_code == 302
    assert "/login/" in anonymous["Location"]


def test_a_kpi_page_reads_stored_values_in_a_fixed_number_of_queries(worked_example):
    """Two queries of stored values however long the history, and nothing recomputed."""
    client = worked_example.client("viewer")
    with worked_example.activate():
        before = set(StoredKPIValue.objects.values_list("pk", "computed_at"))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("kpi", args=["mrr"]), {"grain": "day"}).status_code == 200
    value_queries = [q["sql"] for q in queries.captured_queries if '"kpis_value"' in q["sql"]]
    assert len(value_queries) == 1  # days carry no breakdown
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("kpi", args=["mrr"])).status_code == 200
    value_queries = [q["sql"] for q in queries.captured_queries if '"kpis_value"' in q["sql"]]
    assert len(value_queries) == 2
    assert all(sql.lstrip().startswith("SELECT") for sql in value_queries)
    with worked_example.activate():
        assert set(StoredKPIValue.objects.values_list("pk", "computed_at")) == before


# --- the same in a real browser ---------------------------------------------------------------


@pytest.fixture
def committed_company(worked_example_company):
    """A company with the worked example committed (the live server reads it)."""
    return worked_example_company


def table_values(page) -> dict[str, Decimal]:
    rows = page.locator("table.series tbody tr")
    return {
        rows.nth(i).get_attribute("data-period"): money_in(
            rows.nth(i).locator("td.value").inner_text()
        )
        for i in range(rows.count())
    }


def stored_in_cents(company, grain: str) -> dict[str, Decimal]:
    from kpiplatform.sdk import Grain, Period

    with company.activate():
        values = stored_values("mrr", grain)
    connection.set_schema_to_public()
    return {
        Period(Grain(grain), start, row.period_end).label: cents(row.value)
        for start, row in values.items()
    }


def test_admin_opens_a_kpi_from_home_sees_chart_table_and_downloads_the_csv(
    committed_company, live_app, browser_page, screenshots, django_db_blocker
):
    page, errors = browser_page
    company = committed_company
    with django_db_blocker.unblock():
        month = stored_in_cents(company, "month")
        quarter = stored_in_cents(company, "quarter")
        with company.activate():
            exact_month = {s: row.value for s, row in stored_values("mrr", "month").items()}
        connection.set_schema_to_public()
    assert month["2025-03"] == Decimal("320.00")  # the worked example's March MRR

    page.goto(live_app.url(company.host, "/"))
    page.get_by_label("E-mail").fill(company.email("admin"))
    page.get_by_label("Password").fill(PASSWORD)
    screenshots.take(page, "log in")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))
    screenshots.take(page, "company home")

    page.get_by_role("link", name="MRR", exact=True).first.click()
    page.wait_for_url(re.compile(r"/kpis/mrr/$"))
    chart = page.locator("#kpi-chart svg")
    chart.wait_for()
    # vega drew one point per period that has a value.
    points = page.locator("#kpi-chart svg .mark-symbol path")
    assert points.count() == sum(1 for v in exact_month.values() if v is not None)
    screenshots.take(page, "mrr by month")
    assert table_values(page) == month

    page.get_by_label("Grain").select_option("quarter")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"grain=quarter"))
    page.locator("#kpi-chart svg").wait_for()
    assert table_values(page) == quarter
    screenshots.take(page, "mrr by quarter")

    # Back to months with the keyboard alone: the grain's select, then its button.
    page.get_by_label("Grain").focus()
    page.keyboard.press("ArrowUp")  # quarter -> month
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"grain=month"))
    assert table_values(page) == month
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("mrr_month_")
    with open(download.path(), newline="") as file:
        downloaded = {row["start"]: row for row in csv.DictReader(io.StringIO(file.read()))}
    assert {start: Decimal(row["value"]) for start, row in downloaded.items()} == {
        start.isoformat(): value for start, value in exact_month.items()
    }

    # A phone: nothing wider than the screen except inside the scrolling tables.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.locator("#kpi-chart svg").wait_for()
    screenshots.take(page, "mrr on a phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert errors.messages == []


def test_browser_tests_fail_rather_than_skip_without_chromium(monkeypatch, tmp_path):
    from kpiplatform.testing import browser

    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setenv("KPI_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="no-chromium is missing"):
        browser.require_chromium()
    monkeypatch.setenv("KPI_REQUIRE_SERVICES", "0")
    with pytest.raises(pytest.skip.Exception):
        browser.require_chromium()


def test_a_kpi_page_says_why_periods_have_no_value(worked_example):
    with worked_example.activate():
        undefined = (
            StoredKPIValue.objects.filter(grain="month", segment_kind="", value__isnull=True)
            .exclude(reason="")
            .values("kpi", "reason")
            .first()
        )
    connection.set_schema_to_public()
    assert undefined, "the worked example has a KPI without a value in some month"
    response = worked_example.client("viewer").get(reverse("kpi", args=[undefined["kpi"]]))
    reasons = dict(response.context["page"].undefined_reasons)
    assert reasons[undefined["reason"]] >= 1
    assert escape(undefined["reason"]) in response.content.decode()


def test_a_kpi_page_shows_only_its_own_company_values(worked_example, globex):
    own = globex.client("viewer").get(reverse("kpi", args=["mrr"]))
    assert own.status_code == 200
    assert own.context["page"].rows == []
    assert "No stored values of MRR" in own.content.decode()
    # acme's session cookie on globex's host is no login there.
    crossing = worked_example.client("admin").get(
        reverse("kpi", args=["mrr"]), HTTP_HOST=globex.host
    )
    assert crossing.status_code == 302
    assert "/login/" in crossing["Location"]
