"""Browser tests (Debian's Chromium through Playwright, kpiplatform/testing/browser.py):
the churn drill-down from the KPI page's table and chart down to a customer page; a user of
one company opening another company's host; and every page of the app, for each role,
without a server error or a browser console error.

Screenshots of each step are saved under var/test-artefacts/screenshots/<test>/.
"""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.db import connection, transaction

from kpiplatform.testing.browser import launched_chromium
from kpiplatform.testing.companies import PASSWORD, ROLES
from kpiplatform.testing.crawl import crawl
from kpiplatform.testing.data import load_records
from kpiplatform.testing.drill_example import FEBRUARY_CHURN
from kpiplatform.testing.kpis import (
    configure_company,
    mrr_segment,
    recompute_pending,
    stored_values,
)
from kpiplatform.testing.shared import shared_company

# The modules reading the drill example run on one worker, which computes it once.
pytestmark = pytest.mark.xdist_group("drill-example")


@pytest.fixture(scope="module")
def chromium():
    """One browser for the module's tests (each still gets a fresh context, browser_page):
    they all drive it, so the ORM's check of a running event loop stays off for the module
    (kpiplatform/testing/browser.py)."""
    with launched_chromium() as browser:
        yield browser


@pytest.fixture
def committed_example(drill_example_company):
    """A company of its own with the drill example committed and computed (tests/conftest.py),
    which these tests only read."""
    return drill_example_company


def log_in(page, live_app, company, role: str) -> None:
    page.goto(live_app.url(company.host, "/login/"))
    page.get_by_label("E-mail").fill(company.email(role))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))


def listed_movements(page) -> dict[str, Decimal]:
    """The drill list's customers and amounts, as the page's cells carry them."""
    rows = page.locator("table.drill-list tbody tr")
    listed = {}
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td")
        customer = cells.nth(0).get_attribute("data-value")
        listed[customer] = Decimal(cells.nth(3).get_attribute("data-value"))
    return listed


def test_from_the_churn_chart_and_table_to_the_customers_behind_it(
    committed_example, live_app, browser_page, screenshots, django_db_blocker
):
    page, errors = browser_page
    company = committed_example
    with django_db_blocker.unblock(), company.activate():
        stored = stored_values("churned_mrr")
        months = sorted(stored)
    connection.set_schema_to_public()
    february = next(start for start in months if start.isoformat() == "2025-02-01")
    # The stored number, and the customers whose movements make it (by hand: B and F).
    assert stored[february].value == sum(FEBRUARY_CHURN.values()) == Decimal(-240)

    log_in(page, live_app, company, "analyst")
    page.goto(live_app.url(company.host, "/kpis/churned_mrr/"))
    page.locator("#kpi-chart svg").wait_for()
    screenshots.take(page, "churned mrr by month")

    # The chart: a click on February's point opens February's churn.
    points = page.locator("#kpi-chart svg .mark-symbol path")
    points.nth(months.index(february)).click()
    page.wait_for_url(re.compile(r"/kpis/churned_mrr/drill/\?.*period=2025-02-01"))
    assert listed_movements(page) == FEBRUARY_CHURN
    screenshots.take(page, "february churn from the chart")

    # The table: February's row links to the same list.
    page.go_back()
    page.get_by_role("link", name="Drill down into 2025-02").click()
    page.wait_for_url(re.compile(r"period=2025-02-01"))
    assert listed_movements(page) == FEBRUARY_CHURN
    assert sum(listed_movements(page).values()) == stored[february].value
    assert "2 movements, summing to EUR -240.00" in page.locator(".drill-totals").inner_text()
    churn_line = page.locator("table.reconciliation tr[data-line='churn'] td.amount")
    assert churn_line.inner_text() == "EUR -240.00"
    assert page.locator(".reconciles").is_visible()
    screenshots.take(page, "february churn from the table")

    # The URL the dashboard links to, for every kind at once, then churn from its line.
    page.goto(live_app.url(company.host, "/kpis/mrr_movements/drill/?period=2025-02-01"))
    page.locator("table.reconciliation").get_by_role("link", name="Churn").click()
    page.wait_for_url(re.compile(r"kind=churn"))
    assert listed_movements(page) == FEBRUARY_CHURN
    screenshots.take(page, "mrr movements february churn")

    page.get_by_role("link", name="Bravo SA (B)").click()
    page.wait_for_url(re.compile(r"/customers/import/B/$"))
    churn = page.locator("table.movements tr[data-kind='churn']")
    assert churn.locator("th").inner_text() == "2025-02-15"
    assert "EUR -200.00" in churn.inner_text()
    assert page.locator("dd[data-segment='country']").inner_text() == "FR"
    screenshots.take(page, "customer b")
    assert errors.messages == []


def _zulu_secret() -> None:
    configure_company("EUR", "UTC")
    with transaction.atomic():
        load_records("customers", [{"external_id": "ZULU-1", "name": "Zulu Secret"}])
        load_records("mrr_segments", [mrr_segment("ZULU-1", "2025-01-01", "2025-02-12", 999)])
    recompute_pending()  # what the worker runs once the writes commit


@pytest.fixture
def other_company(standing_companies, django_db_blocker):
    """Company B, committed, with a customer of its own that churns in February."""
    with shared_company(django_db_blocker, "Other Co", _zulu_secret) as company:
        yield company


def test_a_user_of_one_company_is_a_stranger_on_another_companys_host(
    committed_example, other_company, live_app, browser_page, screenshots
):
    page, errors = browser_page
    a, b = committed_example, other_company
    log_in(page, live_app, a, "admin")
    screenshots.take(page, "company a home")
    # The login cookies belong to A's host alone (host-only: no Domain attribute).
    cookies = page.context.cookies()
    assert {cookie["name"] for cookie in cookies} >= {"sessionid"}
    assert {cookie["domain"] for cookie in cookies} == {a.host}

    churn = "/kpis/mrr_movements/drill/?period=2025-02-01&grain=month&kind=churn"
    for path in ("/", "/kpis/churned_mrr/", churn, "/customers/import/ZULU-1/", "/data/"):
        page.goto(live_app.url(b.host, path))
        assert "/login/" in page.url, path
        assert "Zulu" not in page.content()
    screenshots.take(page, "company b asks to log in")
    api_churn = "/api/v1/kpis/mrr_movements/drill/?period=2025-02-01&kind=churn"
    for path in (api_churn, "/api/v1/customers/import/ZULU-1/", "/api/v1/kpis/"):
        # Through the browser's own navigation (its resolver knows *.localhost).
        response = page.goto(
            live_app.url(b.host, path + ("&" if "?" in path else "?") + "format=json")
        )
        assert response.status in (401, 403), path
        assert "Zulu" not in response.text()

    # A's own pages and API, asked for B's customer: it does not exist in A.
    response = page.goto(live_app.url(a.host, "/customers/import/ZULU-1/"))
    assert response.status == 404
    assert "Zulu" not in page.content()
    screenshots.take(page, "b's customer is not found in a")
    response = page.goto(live_app.url(a.host, "/api/v1/customers/import/ZULU-1/?format=json"))
    assert response.status == 404
    page.goto(live_app.url(a.host, churn))
    assert listed_movements(page) == FEBRUARY_CHURN  # A's churn, none of B's
    assert "Zulu" not in page.content()
    body = page.goto(live_app.url(a.host, api_churn + "&format=json")).json()
    assert {row["customer_ref"] for row in body["results"]} == set(FEBRUARY_CHURN)
    screenshots.take(page, "a's churn only")
    # The only console errors are the browser's notes of the refusals above.
    assert errors.messages and all(
        re.search(r"status of (401|403|404)", message) for message in errors.messages
    ), errors.messages


@pytest.fixture
def crawled_company(drill_example_company):
    """One company with the drill example for the three roles' crawls (read only)."""
    return drill_example_company


@pytest.mark.parametrize("role", ROLES)
def test_every_page_loads_without_a_server_or_console_error(
    crawled_company, live_app, browser_page, screenshots, role
):
    page, errors = browser_page
    company = crawled_company
    log_in(page, live_app, company, role)
    # Admins see every page the others see and more: their crawl goes further.
    limit = 80 if role == "admin" else 50
    report = crawl(page, errors, live_app.url(company.host, "/"), limit, per_shape=40, per_path=1)
    screenshots.take(page, f"last page {role} visited")
    visited = {urlsplit(url).path for url in report.visited}
    # The crawl reached every kind of page this branch knows of (pages added later are
    # reached through their links).
    kinds = {"/", "/data/", "/team/", "/tokens/"}
    assert kinds <= visited, sorted(visited)
    for prefix in ("/kpis/", "/data/", "/customers/"):
        assert any(path.startswith(prefix) and path != prefix for path in visited), prefix
    assert any("/drill/" in path for path in visited)
    assert len(report.visited) >= 40
    # The crawl does tell a broken page: a link to no page at all is reported.
    broken = crawl(page, errors, live_app.url(company.host, "/kpis/no_such_kpi/"), limit=1)
    (problems,) = broken.offending.values()
    assert problems[0] == "status 404" and "404" in problems[1]
    assert report.offending == {}, "\n".join(
        f"{url}: {'; '.join(problems)}" for url, problems in report.offending.items()
    )
