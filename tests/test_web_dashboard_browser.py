"""In a real browser: sign up, land on the empty dashboard, upload the spend, customers, MRR
segments and payments files through the upload page (a bad file first), and see the cards
and charts drawn, the MRR card, the chart's last point and the API's series agreeing.

Debian's Chromium driven by Playwright (kpiplatform/testing/browser.py); the screenshots of
each step are saved as test artefacts (the README's tour uses them).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from kpiplatform.sdk import Grain, Period
from kpiplatform.tenants.models import Company

PASSWORD = "plum-orbit-canyon-77"


def files_for(last_month: Period) -> dict[str, str]:
    """The uploads, dated in the last complete month M and the one before it:
    C1 pays 100.00 a month from the 1st of M-1, C2 40.00 from the 10th of M; C1's charge of
    100.00 on the 2nd of M; 250.00 spent on ads in M. By hand: MRR at the end of M is 140.00,
    ARR 1,680.00, net new MRR in M 40.00, revenue in M 100.00."""
    before = last_month.previous().start
    tenth = last_month.start + dt.timedelta(days=9)
    second = last_month.start + dt.timedelta(days=1)
    return {
        "customers": (
            "external_id,name,email,country,created_at,channel,campaign\n"
            f"C1,Initech,c1@example.org,US,{before}T09:00:00Z,ads,launch\n"
            f"C2,Umbrella,c2@example.org,DE,{tenth}T09:00:00Z,seo,\n"
        ),
        "mrr_segments": (
            "external_id,customer_ref,subscription_ref,plan_ref,starts_on,ends_on,mrr_minor,currency\n"
            f"s1,C1,sub1,pro,{before},,10000,USD\n"
            f"s2,C2,sub2,basic,{tenth},,4000,USD\n"
        ),
        "payments": (
            "external_id,customer_ref,kind,status,occurred_at,amount_minor,tax_minor,"
            "discount_minor,currency,is_order,invoice_ref,order_ref\n"
            f"p1,C1,charge,succeeded,{second}T12:00:00Z,10000,0,0,USD,false,in1,\n"
        ),
        "spend": (
            "external_id,spent_on,channel,campaign,amount_minor,currency\n"
            f"ads-1,{last_month.start},ads,launch,25000,USD\n"
        ),
    }


# The customers file with a bad row: line 3 has no external_id and a lower-case country.
BAD_CUSTOMERS = (
    "external_id,name,email,country,created_at,channel,campaign\n"
    "C1,Initech,c1@example.org,US,2025-01-01T09:00:00Z,ads,launch\n"
    ",Umbrella,c2@example.org,de,2025-01-02T09:00:00Z,seo,\n"
)


@pytest.fixture
def signed_up(standing_companies, signup_pool, django_db_blocker, settings, live_app):
    """The slug of a company the test signs up (committed: the live server serves it),
    dropped afterwards, the signup pool refilled; recomputes run eagerly, as a worker would."""
    from kpiplatform.celery import app
    from kpiplatform.tenants.provisioning import fill_pool

    slug = f"d{uuid.uuid4().hex[:10]}"
    settings.KPI_PUBLIC_PORT = live_app.port
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield slug
    finally:
        app.conf.task_always_eager = eager
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            for company in Company.objects.filter(slug=slug):
                company.delete(force_drop=True)
            fill_pool(2)
            connection.set_schema_to_public()


def upload(page, dataset: str, path) -> None:
    page.goto(page.url.split("/data/")[0].rstrip("/") + f"/data/{dataset}/")
    page.get_by_label("CSV or JSON file").set_input_files(str(path))
    page.get_by_role("button", name="Preview").click()
    page.wait_for_url(re.compile(rf"/data/{dataset}/upload/$"))


def test_sign_up_upload_and_the_dashboard_agrees_with_the_api(
    signed_up, live_app, browser_page, screenshots, django_db_blocker, tmp_path
):
    page, errors = browser_page
    today = dt.datetime.now(dt.UTC).date()  # a new company's time zone is UTC
    last_month = Period.containing(Grain.MONTH, today).previous()

    # Sign up on the public host; the hand-over logs the admin in on the company's host.
    page.goto(live_app.url("localhost", "/signup/"))
    page.get_by_label("Company name").fill("Dashboard Test Co")
    page.get_by_label("Address").fill(signed_up)
    page.get_by_label("Your work e-mail").fill("owner@dashboard-test.example")
    page.get_by_label("Password").fill(PASSWORD)
    screenshots.take(page, "signup")
    page.get_by_role("button", name=re.compile("Sign up|Create", re.I)).click()
    page.wait_for_url(re.compile(rf"^http://{signed_up}\.localhost:{live_app.port}/$"))
    base = f"http://{signed_up}.localhost:{live_app.port}"

    # The empty dashboard points to the upload.
    empty = page.locator("[data-empty-dashboard]")
    assert "No data yet" in empty.inner_text()
    screenshots.take(page, "empty dashboard")
    empty.get_by_role("link", name="Upload a CSV or JSON file").click()
    page.wait_for_url(re.compile(r"/data/$"))

    # A customers file with a bad row: the error names the row, nothing is written.
    bad = tmp_path / "bad-customers.csv"
    bad.write_text(BAD_CUSTOMERS)
    upload(page, "customers", bad)
    error_rows = page.locator("table.row-errors tbody tr")
    assert error_rows.count() >= 1
    assert {
        error_rows.nth(i).locator("td").first.inner_text() for i in range(error_rows.count())
    } == {"3"}
    assert page.get_by_role("button", name=re.compile("^Write")).count() == 0
    screenshots.take(page, "bad row refused")
    page.goto(f"{base}/data/customers/")
    assert page.locator(".records-count").inner_text() == "0 records"

    # The four files, each previewed then written.
    for dataset, text in files_for(last_month).items():
        path = tmp_path / f"{dataset}.csv"
        path.write_text(text)
        upload(page, dataset, path)
        rows = text.count("\n") - 1
        if dataset == "mrr_segments":
            screenshots.take(page, "preview")
        page.get_by_role("button", name=f"Write {rows} row{'s' if rows > 1 else ''}").click()
        page.wait_for_url(re.compile(rf"/data/{dataset}/$"))
        assert f"{rows} new" in page.locator(".messages").inner_text()

    # The dashboard: last month by default, cards and charts drawn.
    page.goto(f"{base}/")
    page.wait_for_selector('[data-chart="trend-spec"][data-drawn="drawn"]')
    page.wait_for_selector('[data-chart="movements-spec"][data-drawn="drawn"] svg')
    page.wait_for_selector('[data-chart="cohort-mrr-spec"][data-drawn="drawn"]')
    assert last_month.label in page.locator("h1").inner_text()
    mrr_card = page.locator('[data-kpi="mrr"] .kpi-value').inner_text()
    assert mrr_card == "USD 140.00"
    assert page.locator('[data-kpi="arr"] .kpi-value').inner_text() == "USD 1,680.00"
    assert page.locator('[data-kpi="net_new_mrr"] .kpi-value').inner_text() == "USD 40.00"
    assert page.locator('[data-kpi="revenue"] .kpi-value').inner_text() == "USD 100.00"
    screenshots.take(page, "dashboard")

    # The chart's last point is the card's number, and the API's series holds it too.
    trend = page.evaluate("window.kpiCharts['trend-spec'].data('trend')")
    last_point = [point for point in trend if point["series"] == "MRR"][-1]
    assert last_point["period"] == last_month.label
    assert Decimal(str(last_point["value"])) == Decimal("140")
    # The API, asked by the page itself (its session; Chromium resolves *.localhost).
    series_url = reverse("api-kpi-series", args=["mrr"]) + "?grain=month"
    series = page.evaluate(f"fetch('{series_url}').then((r) => r.json())")
    by_period = {row["period"]: row["value"] for row in series}
    assert Decimal(by_period[last_month.label]) == Decimal("140")

    # The definition is one click away.
    page.locator('[data-kpi="mrr"] summary').click()
    assert "recurring revenue" in page.locator('[data-kpi="mrr"] details p').inner_text().lower()

    # The picker: the current month, partial, compared with the same days of the last.
    page.get_by_label("Period", exact=True).select_option(
        Period.containing(Grain.MONTH, today).start.isoformat()
    )
    page.wait_for_selector(".badge.partial")
    page.wait_for_selector('[data-chart="trend-spec"][data-drawn="drawn"]')
    assert "compared like for like" in page.locator(".comparison").inner_text()
    screenshots.take(page, "current month partial")

    # The movement bars link to their drill-down.
    bars = page.evaluate("window.kpiCharts['movements-spec'].data('movements')")
    assert any(bar["url"].startswith("/kpis/mrr_movements/drill/?period=") for bar in bars)

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/")
    page.wait_for_selector('[data-chart="trend-spec"][data-drawn="drawn"]')
    screenshots.take(page, "dashboard on a phone")
    # Chromium logs the refused upload's 400; nothing else went wrong.
    assert [m for m in errors.messages if "status of 400" not in m] == []
