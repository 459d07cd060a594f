"""The dashboard (company home): cards for the chosen grain and period compared with the
comparable period, the picker, the charts' data, the funnel, channels, cohorts, data-quality
warnings, and the reads it makes.

Expected numbers are worked out by hand from the KPI definitions (docs/kpis.md); the MRR
worked example is January to March 2025 (customers A to E).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.contrib.messages import constants
from django.contrib.messages.storage.base import Message
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kpiplatform.goals.models import Goal
from kpiplatform.kpis.engine import company_today
from kpiplatform.kpis.models import CompanySettings
from kpiplatform.plugins.models import PluginSetting
from kpiplatform.sdk import Grain, Period
from kpiplatform.testing.data import load_records
from kpiplatform.testing.kpis import (
    WORKED_EXAMPLE_SEGMENTS,
    configure_company,
    mrr_segment,
    recompute_all,
)
from kpiplatform.testing.shared import shared_company
from kpiplatform.web.cohorts import cohort_retention
from kpiplatform.web.partial import comparison_window

CHANNELS = {"A": "ads", "B": "ads", "C": "seo", "D": "seo", "E": "ads"}


def _worked_example() -> None:
    """The worked example with acquisition channels, spend in February 2025 and payments
    (first paid days) matching the segments; every KPI computed."""
    configure_company("EUR", "UTC")
    load_records(
        "customers",
        [
            {"external_id": c, "channel": k, "campaign": "blog" if k == "seo" else ""}
            for c, k in CHANNELS.items()
        ],
    )
    load_records("mrr_segments", WORKED_EXAMPLE_SEGMENTS)
    load_records(
        "spend",
        [
            {
                "spent_on": "2025-02-03",
                "channel": "ads",
                "campaign": "winter",
                "amount_minor": 30000,
                "currency": "EUR",
            },
            {
                "spent_on": "2025-02-20",
                "channel": "seo",
                "campaign": "blog",
                "amount_minor": 5000,
                "currency": "EUR",
            },
        ],
    )
    recompute_all()


# One worker runs the module, so the worked example is computed once.
pytestmark = pytest.mark.xdist_group("web-dashboard")


@pytest.fixture(scope="module")
def worked_example_company(standing_companies, django_db_blocker):
    """A company of its own with the worked example, computed once for the module's tests."""
    with shared_company(django_db_blocker, "Worked Example Co", _worked_example) as company:
        yield company


@pytest.fixture
def worked_example(worked_example_company, db):
    """The worked example's company; each test's writes are rolled back, and it starts with
    no cached dashboard body (as it did when each test computed the example anew)."""
    cache.clear()
    return worked_example_company


def card(response, key: str):
    (found,) = [c for c in response.context["dashboard"].cards if c.kpi.key == key]
    return found


def card_html(html: str, key: str) -> str:
    match = re.search(rf'<div class="card kpi" data-kpi="{key}">(.*?)<details', html, re.S)
    assert match, f"no card {key}"
    return match.group(1)


# --- cards of a complete period -------------------------------------------------------------


def test_a_complete_month_is_compared_with_the_month_before_coloured_by_direction(
    worked_example,
):
    response = worked_example.client("viewer").get(reverse("home"), {"period": "2025-03-01"})
    assert response.status_code == 200
    html = response.content.decode()
    # MRR: 320 at the end of March against 280 at the end of February: +14.3 %, good news.
    mrr = card_html(html, "mrr")
    assert "EUR 320.00" in mrr
    assert 'class="change good">+14.3 %' in mrr
    assert "vs 2025-02" in mrr
    # ARR = 12 x MRR.
    assert "EUR 3,840.00" in card_html(html, "arr")
    # Customer churn rate: 0 % in March against 33.3 % in February, lower is better: good.
    churn = card_html(html, "customer_churn_rate")
    assert "0.0 %" in churn and 'class="change good">-33.3 pts' in churn
    # Net new MRR fell from -70 to +40: +157.1 % of |-70|, good.
    assert 'class="change good">+157.1 %' in card_html(html, "net_new_mrr")
    # Active customers 4 against 3.
    assert card(response, "active_customers").current["value"] == 4
    assert card(response, "active_customers").previous["value"] == 3


def test_every_kpi_without_a_card_is_in_the_table_with_its_change(worked_example):
    response = worked_example.client("viewer").get(reverse("home"), {"period": "2025-03-01"})
    others = {row.kpi.key: row for row in response.context["dashboard"].others}
    # GRR in March: min(end, start) of A, C, D = 150 + 30 + 80 over 280; February: A 100,
    # B 0, C 50 over 350.
    grr = others["grr"]
    assert (grr.current["numerator"], grr.current["denominator"]) == (260, 280)
    assert (grr.previous["numerator"], grr.previous["denominator"]) == (150, 350)
    row = re.search(r'data-kpi-row="grr">(.*?)</tr>', response.content.decode(), re.S).group(1)
    assert "92.9 %" in row and "42.9 %" in row and 'class="change good">+50.0 pts' in row
    assert 'href="/kpis/grr/"' in row


def test_a_worse_number_is_coloured_bad(worked_example):
    # February: MRR 280 against 350 in January (-20 %), churn rate up from undefined.
    response = worked_example.client("viewer").get(reverse("home"), {"period": "2025-02-01"})
    assert 'class="change bad">-20.0 %' in card_html(response.content.decode(), "mrr")


def test_the_default_period_is_the_last_complete_month(worked_example):
    response = worked_example.client("viewer").get(reverse("home"))
    dashboard = response.context["dashboard"]
    with worked_example.activate():
        today = company_today(CompanySettings.current())
    last_month = Period.containing(Grain.MONTH, today).previous()
    assert dashboard.period == last_month
    assert dashboard.partial_days is None
    # The segments A, C, D and E still run: MRR 150 + 30 + 80 + 60.
    assert card(response, "mrr").current["value"] == Decimal(320)
    # The picker offers the current month, marked as partial, first.
    current, is_partial = dashboard.periods[0]
    assert current == last_month.next() and is_partial
    assert "(to date)" in response.content.decode()


def test_each_card_has_its_definition_one_click_away_and_a_sparkline(worked_example):
    response = worked_example.client("viewer").get(reverse("home"), {"period": "2025-03-01"})
    html = response.content.decode()
    mrr = card(response, "mrr")
    assert f"<summary>Definition</summary><p>{mrr.kpi.description}</p>" in html.replace(
        "&#x27;", "'"
    )
    # The sparkline of the last twelve months up to March: the three months with values.
    assert mrr.sparkline == [Decimal(350), Decimal(280), Decimal(320)]
    assert html.count('class="sparkline"') >= 3


def test_the_goal_slot_is_empty_without_goals(worked_example):
    response = worked_example.client("viewer").get(reverse("home"), {"period": "2025-03-01"})
    assert all(c.goal is None for c in response.context["dashboard"].cards)
    assert "data-goal" not in response.content.decode()


def test_a_card_shows_the_progress_to_its_goal(worked_example):
    with worked_example.activate():
        # A standing MRR goal of 400 a month, and a dated churn goal of 5 % for March.
        Goal.objects.create(kpi_key="mrr", grain="month", period_start=None, target=400)
        Goal.objects.create(
            kpi_key="customer_churn_rate",
            grain="month",
            period_start=dt.date(2025, 3, 1),
            target=Decimal("0.05"),
        )
    connection.set_schema_to_public()
    response = worked_example.client("viewer").get(reverse("home"), {"period": "2025-03-01"})
    mrr = card(response, "mrr")
    # 320 of 400: 80 %, not met.
    assert mrr.goal == {"target": Decimal(400), "ratio": Decimal("0.8"), "met": False}
    html = card_html(response.content.decode(), "mrr")
    assert "Goal EUR 400.00 · 80.0 % reached · not met" in html
    # Churn 0 % against 5 % (lower is better): met; no share of a zero value.
    churn = card(response, "customer_churn_rate")
    assert churn.goal["met"] is True and churn.goal["ratio"] is None
    assert "· met" in card_html(response.content.decode(), "customer_churn_rate")
    assert card(response, "arpa").goal is None


# --- the charts ----------------------------------------------------------------------------


def spec(html: str, element_id: str) -> dict:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html)
    assert match, element_id
    return json.loads(match.group(1))


def test_the_mrr_chart_ends_with_the_selected_period_and_holds_the_card_value(worked_example):
    response = worked_example.client("viewer").get(reverse("home"), {"period": "2025-03-01"})
    trend = spec(response.content.decode(), "trend-spec")["data"]["values"]
    mrr = [point for point in trend if point["series"] == "MRR"]
    assert [(p["period"], p["value"]) for p in mrr] == [
        ("2025-01", 350.0),
        ("2025-02", 280.0),
        ("2025-03", 320.0),
    ]
    assert {p["value"] for p in trend if p["series"] == "ARR"} == {4200.0, 3360.0, 3840.0}


def test_the_movement_bars_link_to_the_drill_down_of_their_kind_and_period(worked_example):
    response = worked_example.client("viewer").get(reverse("home"), {"period": "2025-03-01"})
    layers = spec(response.content.decode(), "movements-spec")["layer"]
    bars = {(b["period"], b["kind"]): b for b in layers[0]["data"]["values"]}
    # The worked example's table, month by month.
    assert bars[("2025-01", "New business")]["amount"] == 410.0
    assert bars[("2025-01", "Churn")]["amount"] == -60.0
    assert bars[("2025-02", "Expansion")]["amount"] == 50.0
    assert bars[("2025-02", "Churn")]["amount"] == -200.0
    assert bars[("2025-03", "Contraction")]["amount"] == -20.0
    assert bars[("2025-03", "Reactivation")]["amount"] == 60.0
    assert ("2025-03", "Churn") not in bars  # no churn in March: no empty bar
    assert bars[("2025-02", "Churn")]["url"] == (
        "/kpis/mrr_movements/drill/?period=2025-02&grain=month&kind=churn"
    )
    net = {p["period"]: p["net"] for p in layers[1]["data"]["values"]}
    assert net == {"2025-01": 350.0, "2025-02": -70.0, "2025-03": 40.0}


# --- funnel and channels ------------------------------------------------------------------


def test_the_channel_table_shows_spend_new_customers_and_cac_per_channel(worked_example):
    response = worked_example.client("viewer").get(reverse("home"), {"period": "2025-02-01"})
    rows = {(r.kind, r.segment): r for r in response.context["dashboard"].channels}
    # February: spend 300 on ads and 50 on seo; D (seo) is the only new customer.
    assert rows[("channel", "ads")].values["spend"]["value"] == Decimal(300)
    assert rows[("channel", "seo")].values["new_customers"]["value"] == 1
    assert rows[("channel", "seo")].cac == Decimal(50)
    assert rows[("channel", "ads")].cac is None  # no new customer on ads: no CAC
    assert rows[("campaign", "winter")].values["spend"]["value"] == Decimal(300)
    # The campaign rows have their new customers and CAC too: D came through the blog.
    assert rows[("campaign", "blog")].values["new_customers"]["value"] == 1
    assert rows[("campaign", "blog")].cac == Decimal(50)
    assert rows[("campaign", "winter")].cac is None
    html = response.content.decode()
    assert re.search(r'data-segment="channel:seo">.*?EUR 50.00.*?EUR 50.00', html, re.S)
    assert re.search(r'data-segment="campaign:blog">.*?EUR 50.00.*?>1<.*?EUR 50.00', html, re.S)


def test_the_funnel_gives_each_step_and_its_conversion(acme):
    with acme.activate():
        configure_company("EUR", "UTC")
        load_records(
            "web_traffic",
            [
                {
                    "day": "2025-05-10",
                    "channel": "ads",
                    "sessions": 400,
                    "engaged_sessions": 100,
                    "key_event_sessions": 10,
                    "users": 300,
                    "revenue_minor": 0,
                    "ad_cost_minor": 0,
                    "currency": "EUR",
                }
            ],
        )
        load_records(
            "leads",
            [
                {"external_id": f"L{i}", "created_at": "2025-05-12T10:00:00Z", "channel": "ads"}
                for i in range(20)
            ],
        )
        load_records("mrr_segments", [mrr_segment("X", "2025-05-20", None, 10)])
        recompute_all()
    connection.set_schema_to_public()
    response = acme.client("viewer").get(reverse("home"), {"period": "2025-05-01"})
    funnel = {step["kpi"].key: step for step in response.context["dashboard"].funnel}
    assert funnel["sessions"]["value"] == 400 and funnel["sessions"]["rate"] is None
    assert funnel["new_leads"]["value"] == 20
    assert funnel["new_leads"]["rate"] == Decimal(20) / 400  # 5 %
    assert funnel["new_customers"]["value"] == 1
    assert funnel["new_customers"]["rate"] == Decimal(1) / 20  # 5 %
    assert re.search(
        r'data-step="new_leads">.*?<td>20</td><td>5.0 %</td>', response.content.decode(), re.S
    )


# --- the current, unfinished period: like for like -----------------------------------------


def test_the_current_month_is_partial_and_compared_with_the_same_days_before(acme):
    """Spend of 10 a day through the previous and the current month; customer P pays 100 from
    the first day of the previous month, Q 50 from its second day. The current month to date
    (n days) compares with the previous month's first n days: spend 10 x n, MRR at the end of
    its n-th day (100 on the first day, 150 after)."""
    with acme.activate():
        configure_company("EUR", "UTC")
        today = company_today(CompanySettings.current())
        current = Period.containing(Grain.MONTH, today)
        previous = current.previous()
        days = (today - previous.start).days + 1
        load_records(
            "spend",
            [
                {
                    "spent_on": (previous.start + dt.timedelta(days=i)).isoformat(),
                    "channel": "ads",
                    "amount_minor": 1000,
                    "currency": "EUR",
                }
                for i in range(days)
            ],
        )
        second_day = (previous.start + dt.timedelta(days=1)).isoformat()
        load_records(
            "mrr_segments",
            [
                mrr_segment("P", previous.start.isoformat(), None, 100),
                mrr_segment("Q", second_day, None, 50),
            ],
        )
        recompute_all()
    connection.set_schema_to_public()
    response = acme.client("viewer").get(reverse("home"), {"period": current.start.isoformat()})
    assert response.status_code == 200
    dashboard = response.context["dashboard"]
    elapsed = (today - current.start).days + 1
    assert dashboard.partial_days == elapsed
    first, last = comparison_window(previous, elapsed)
    window = (last - first).days + 1
    assert window == min(elapsed, (previous.end - previous.start).days)
    spend = card(response, "spend")
    assert spend.current["value"] == Decimal(10 * elapsed)
    assert spend.previous["value"] == Decimal(10 * window)
    mrr = card(response, "mrr")
    assert mrr.current["value"] == Decimal(150)
    assert mrr.previous["value"] == Decimal(100 if window == 1 else 150)
    # NRR of a cohort does not combine from days: no like-for-like value, and it says why.
    nrr = card(response, "nrr")
    assert nrr.previous is None and nrr.no_comparison
    html = response.content.decode()
    assert ">partial</span>" in html
    assert f"compared like for like with the first {elapsed} day" in html
    assert f"vs same days of {previous.label}" in card_html(html, "spend")


def test_a_week_picked_in_the_grain_selector_compares_with_the_week_before(worked_example):
    # ISO week 2025-W07 (10-16 Feb): A expands on the 10th (+50), B churns on the 15th (-200).
    response = worked_example.client("viewer").get(
        reverse("home"), {"grain": "week", "period": "2025-02-10"}
    )
    dashboard = response.context["dashboard"]
    assert dashboard.period.label == "2025-W07" and dashboard.previous.label == "2025-W06"
    assert card(response, "net_new_mrr").current["value"] == Decimal(-150)
    # The week before: D starts on 5 Feb (+80).
    assert card(response, "net_new_mrr").previous["value"] == Decimal(80)
    assert card(response, "mrr").current["value"] == Decimal(280)


def test_a_grain_change_drops_the_period_of_the_old_grain(worked_example):
    response = worked_example.client("viewer").get(
        reverse("home"), {"grain": "quarter", "shown_grain": "month", "period": "2025-02-01"}
    )
    assert response.status_code == 200
    assert response.context["dashboard"].grain == Grain.QUARTER


def test_an_unknown_period_or_grain_is_a_400_that_says_so(worked_example):
    client = worked_example.client("viewer")
    response = client.get(reverse("home"), {"period": "1999-01-01"})
    assert response.status_code == 400
    assert (
        "No month starts on 1999-01-01 among the periods with values" in response.content.decode()
    )
    response = client.get(reverse("home"), {"grain": "fortnight"})
    assert response.status_code == 400
    assert "Unknown grain" in response.content.decode()


def test_an_htmx_request_gets_the_dashboard_body_only(worked_example):
    response = worked_example.client("viewer").get(
        reverse("home"), {"period": "2025-03-01"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'data-kpi="mrr"' in html
    assert "HX-Request" in response["Vary"]


# --- cohorts ---------------------------------------------------------------------------------


def test_cohort_retention_by_first_paid_month_matches_the_worked_example(worked_example):
    with worked_example.activate():
        cells = {(c.cohort, c.age): c for c in cohort_retention(dt.date(2025, 3, 31))}
    jan = dt.date(2025, 1, 1)
    # January cohort: A, B, C, E (MRR 100 + 200 + 50 + 60 = 410 at first, 350 at the end of
    # January after E's churn). End of Feb: A 150, C 50 active (2 of 4), MRR 200. End of
    # March: A 150, C 30, E 60: 3 of 4, MRR 240.
    assert cells[(jan, 0)].customers == 4 and cells[(jan, 0)].active == 3
    assert cells[(jan, 0)].mrr == 350
    assert cells[(jan, 1)].active == 2 and cells[(jan, 1)].mrr == 200
    assert cells[(jan, 1)].customer_retention == Decimal("0.5")
    assert cells[(jan, 1)].mrr_retention == Decimal(200) / 350
    assert cells[(jan, 2)].active == 3 and cells[(jan, 2)].mrr == 240
    feb = dt.date(2025, 2, 1)
    assert cells[(feb, 0)].customers == 1 and cells[(feb, 1)].mrr_retention == 1


def test_the_cohorts_fragment_draws_both_heatmaps(worked_example):
    client = worked_example.client("viewer")
    response = client.get(reverse("home"), {"period": "2025-03-01"})
    assert "/dashboard/cohorts/?until=2025-03-31" in response.content.decode()
    response = client.get(reverse("dashboard-cohorts"), {"until": "2025-03-31"})
    assert response.status_code == 200
    html = response.content.decode()
    customers = spec(html, "cohort-customers-spec")["data"]["values"]
    assert {"cohort": "2025-01", "age": 1, "retention": 0.5, "customers": 4} in customers
    assert 'id="cohort-mrr-spec"' in html
    assert client.get(reverse("dashboard-cohorts"), {"until": "soon"}).status_code == 400


# --- data quality --------------------------------------------------------------------------


def test_records_left_out_for_want_of_a_rate_are_shown_on_the_card_they_change(acme):
    with acme.activate():
        configure_company("EUR", "UTC")
        load_records(
            "mrr_segments",
            [
                mrr_segment("A", "2025-01-01", None, 100),
                mrr_segment("Z", "2025-01-05", None, 70, currency="USD"),
            ],
        )
        recompute_all()
    connection.set_schema_to_public()
    response = acme.client("admin").get(reverse("home"), {"period": "2025-01-01"})
    html = response.content.decode()
    assert card(response, "mrr").current["value"] == 100  # Z's USD is left out
    assert card(response, "mrr").warnings == 1
    assert "1 record left out: no exchange rate" in card_html(html, "mrr")
    assert "1 mrr_segments record left out of the numbers (MRR)" in html


def test_a_currency_change_not_yet_recomputed_is_announced(worked_example):
    with worked_example.activate():
        settings = CompanySettings.current()
        settings.reporting_currency = "USD"
        settings.save()
    connection.set_schema_to_public()
    response = worked_example.client("viewer").get(reverse("home"), {"period": "2025-03-01"})
    assert "are being recomputed" in response.content.decode()


# --- roles, empty state, reads -------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "analyst", "viewer"])
def test_every_role_sees_the_dashboard(worked_example, role):
    response = worked_example.client(role).get(reverse("home"), {"period": "2025-03-01"})
    assert response.status_code == 200
    assert "EUR 320.00" in card_html(response.content.decode(), "mrr")


def test_anonymous_visitors_are_sent_to_log_in(worked_example):
    response = worked_example.client(None).get(reverse("home"))
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_an_empty_company_gets_a_helpful_empty_state(acme, role):
    response = acme.client(role).get(reverse("home"))
    html = response.content.decode()
    assert response.status_code == 200 and "data-empty-dashboard" in html
    assert 'href="/data/"' in html
    assert ("Upload a CSV or JSON file" in html) == (role == "admin")


def test_the_dashboard_reads_settings_once_and_only_the_periods_it_shows(worked_example):
    client = worked_example.client("viewer")
    client.get(reverse("home"))  # warm: session, plugin registry
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("home"), {"period": "2025-03-01"})
    assert response.status_code == 200
    sql = [q["sql"] for q in queries.captured_queries]
    assert len([s for s in sql if "kpis_companysettings" in s]) == 1
    values = [s for s in sql if 'FROM "kpis_value"' in s]
    # Every read of stored values names its periods: none reads the whole table.
    assert all("period_start" in s for s in values), values
    assert len(sql) <= 16, sql


def test_the_summary_and_the_dashboard_read_totals_through_the_totals_index(worked_example):
    """The reads of the company totals of given periods fit an index (grain, period_start,
    kpi over the totals): with sequential scans off, PostgreSQL uses it; no read of the whole
    table remains."""
    client = worked_example.client("viewer")
    client.get(reverse("api-kpi-summary"))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("api-kpi-summary")).status_code == 200
        assert client.get(reverse("home"), {"period": "2025-03-01"}).status_code == 200
    reads = [
        q["sql"]
        for q in queries.captured_queries
        if 'FROM "kpis_value"' in q["sql"] and '"kpis_value"."segment_kind" = \'\'' in q["sql"]
    ]
    assert len(reads) >= 3, reads
    settings_reads = [q for q in queries.captured_queries if "kpis_companysettings" in q["sql"]]
    assert len(settings_reads) == 2  # once per request
    with worked_example.activate(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for sql in reads:
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "kpi_value_totals_by_period" in plan or "kpi_value_unique" in plan, plan
            assert "Seq Scan" not in plan, plan


def test_the_cached_body_of_one_company_is_never_another_s(worked_example, globex):
    acme_page = worked_example.client("viewer").get(reverse("home"), {"period": "2025-03-01"})
    assert "EUR 320.00" in acme_page.content.decode()
    # globex: same grain, period, day and role, no values: its own empty dashboard.
    globex_page = globex.client("viewer").get(reverse("home"), {"period": "2025-03-01"})
    assert "EUR 320.00" not in globex_page.content.decode()


def without_csrf_token(html: str) -> str:
    return re.sub(r'(X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+', r"\1", html)


def test_the_page_is_cached_until_a_computation_stores_new_values(worked_example):
    client = worked_example.client("viewer")
    first = client.get(reverse("home"), {"period": "2025-03-01"})
    assert "EUR 320.00" in card_html(first.content.decode(), "mrr")
    with CaptureQueriesContext(connection) as queries:
        again = client.get(reverse("home"), {"period": "2025-03-01"})
    assert again.status_code == 200
    # ...served from the cache: the same page, without reading a stored value or rendering...
    assert without_csrf_token(again.content.decode()) == without_csrf_token(first.content.decode())
    assert not [q for q in queries.captured_queries if 'FROM "kpis_value"' in q["sql"]]
    assert again.templates == []
    # ...one read of the dashboard's state on top of the user's (the session is cached)...
    state_reads = [q for q in queries.captured_queries if "kpis_computation" in q["sql"]]
    assert len(state_reads) == 1
    # ...until new values are stored: F starts at 100 on 5 March.
    with worked_example.activate():
        load_records("mrr_segments", [mrr_segment("F", "2025-03-05", None, 100)])
        recompute_all()
    connection.set_schema_to_public()
    after = client.get(reverse("home"), {"period": "2025-03-01"})
    assert "EUR 420.00" in card_html(after.content.decode(), "mrr")


def test_a_goal_change_or_a_plugin_switched_off_is_shown_at_once(worked_example):
    client = worked_example.client("viewer")
    client.get(reverse("home"), {"period": "2025-03-01"})
    with worked_example.activate():
        Goal.objects.create(kpi_key="mrr", grain="month", target=Decimal("400"))
    connection.set_schema_to_public()
    html = client.get(reverse("home"), {"period": "2025-03-01"}).content.decode()
    assert "400.00" in card_html(html, "mrr")
    assert 'data-kpi-row="example_days"' in html
    with worked_example.activate():
        PluginSetting.objects.create(plugin="kpiplatform-example", enabled=False)
    connection.set_schema_to_public()
    html = client.get(reverse("home"), {"period": "2025-03-01"}).content.decode()
    assert 'data-kpi-row="example_days"' not in html and 'data-kpi="mrr"' in html


def test_each_user_gets_a_cached_page_of_their_own(worked_example):
    viewer, admin = worked_example.client("viewer"), worked_example.client("admin")
    for _ in range(2):  # rendered, then from the cache
        viewer_html = viewer.get(reverse("home")).content.decode()
        admin_html = admin.get(reverse("home")).content.decode()
        assert worked_example.users["viewer"].email in viewer_html
        assert worked_example.users["admin"].email not in viewer_html
        assert worked_example.users["admin"].email in admin_html
        assert 'href="/settings/"' in admin_html and 'href="/settings/"' not in viewer_html


def test_a_cached_page_carries_a_csrf_token_the_next_post_is_accepted_with(worked_example):
    client = worked_example.client("viewer", enforce_csrf_checks=True)
    client.get(reverse("home"))
    cached = client.get(reverse("home"))
    assert cached.templates == []  # from the cache
    (token,) = set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', cached.text))
    assert re.fullmatch(r"[A-Za-z0-9]{64}", token)
    refused = client.post(reverse("logout"), {"csrfmiddlewaretoken": "x" * 64})
    assert refused.status_code == 403
    logged_out = client.post(reverse("logout"), {"csrfmiddlewaretoken": token})
    assert logged_out.status_code == 302
    assert client.get(reverse("home")).status_code == 302  # to the login page


def test_a_message_waiting_for_the_user_is_shown_even_when_the_page_is_cached(worked_example):
    client = worked_example.client("viewer")
    client.get(reverse("home"))
    assert client.get(reverse("home")).templates == []  # cached
    # What a redirect after a form leaves for the next page (Django's message cookie).
    storage = CookieStorage(RequestFactory().get("/"))
    client.cookies["messages"] = storage._encode([Message(constants.INFO, "Report saved.")])
    assert "Report saved." in client.get(reverse("home")).text
    assert "Report saved." not in client.get(reverse("home")).text  # shown once
