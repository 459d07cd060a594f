"""The KPIs a GA4 sync feeds, recomputed after it as after an import and read from the KPI
API, against values worked out by hand from the definitions (docs/kpis.md): engagement rate
and web conversion rate from summed daily counts, CAC and marketing ROI from the ad cost
stored as spend, matched to customers by channel and campaign.

The property (ga4_testing.ROWS), in the months M1 and M2, reporting currency USD:

| day | channel / campaign | sessions | engaged | with a key event | ad cost |
| K1 (M1) | organic | 1000 | 620 | 40 | 0 |
| K1 (M1) | paid_search / brand-search | 200 | 150 | 10 | 123.45 |
| K2 (M1) | paid_social / linkedin-q4 | 300 | 90 | 6 | 250.10 |
| K3 (M2) | organic | 500 | 300 | 15 | 0 |

Customers (imported): c1 paid_search / brand-search pays 500.00 on K1, c2 paid_social /
linkedin-q4 pays 300.00 on K2, c3 organic pays 100.00 on K3.

- M1: sessions 1500; engagement (620 + 150 + 90) / 1500 = 860 / 1500 = 57.33 %; web conversion
  (40 + 10 + 6) / 1500 = 56 / 1500 = 3.73 %; paid_search alone 150 / 200 = 75 %.
- M1: spend 123.45 + 250.10 = 373.55; new customers 2 (c1, c2): CAC 373.55 / 2 = 186.775.
  Marketing ROI (500 + 300 - 373.55) / 373.55 = 426.45 / 373.55; paid_search
  (500 - 123.45) / 123.45 = 376.55 / 123.45, the same for the campaign brand-search.
- M2: sessions 500; engagement 300 / 500 = 60 %; conversion 15 / 500 = 3 %; spend 0 and one new
  customer: CAC 0 / 1 = 0; ROI undefined (no spend).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ga4_testing import K1, K2, K3, M1, M2, PROPERTY, RECENT, ROWS, run_sync

from kpiplatform.testing.data import load_records
from kpiplatform.testing.kpis import configure_company, recompute_pending

SIX_PLACES = Decimal("0.000001")


def at(day: dt.date, hour: int) -> str:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC).isoformat()


def series(company, kpi: str, **segment) -> dict[str, tuple]:
    """(value, numerator, denominator, reason) per month of M1 and M2, as the API serves them."""
    end = (M2 + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    query = f"?grain=month&start={M1}&end={end}"
    if segment:
        query += f"&segment_kind={segment['kind']}&segment={segment['value']}"
    answer = company.client("viewer").get(f"/api/v1/kpis/{kpi}/series/{query}")
    assert answer.status_code == 200, answer.content

    def number(text):
        return Decimal(text) if text is not None else None

    return {
        row["start"]: (
            number(row["value"]),
            number(row["numerator"]),
            number(row["denominator"]),
            row["reason"],
        )
        for row in answer.json()
    }


def month(company, kpi: str, start: dt.date, **segment) -> tuple:
    return series(company, kpi, **segment)[start.isoformat()]


def test_web_cac_and_roi_kpis_follow_the_definitions_from_the_synced_traffic_and_spend(
    acme, sandbox, connected
):
    with acme.activate():
        configure_company("USD", "UTC", "1")
        load_records(
            "customers",
            [
                {"external_id": "c1", "created_at": at(K1, 9), "channel": "paid_search",
                 "campaign": "brand-search"},
                {"external_id": "c2", "created_at": at(K2, 9), "channel": "paid_social",
                 "campaign": "linkedin-q4"},
                {"external_id": "c3", "created_at": at(K3, 9), "channel": "organic"},
            ],
        )  # fmt: skip
        load_records(
            "payments",
            [
                {"external_id": f"p{n}", "customer_ref": ref, "occurred_at": at(day, 12),
                 "amount_minor": amount, "currency": "USD"}
                for n, (ref, day, amount) in enumerate(
                    [("c1", K1, 50000), ("c2", K2, 30000), ("c3", K3, 10000)], start=1
                )
            ],
        )  # fmt: skip
    assert run_sync(acme, connected) == "succeeded: 3 pages"
    with acme.activate():
        report = recompute_pending()
    assert report is not None

    assert month(acme, "sessions", M1)[0] == 1500
    assert month(acme, "sessions", M2)[0] == 500
    value, numerator, denominator, _ = month(acme, "engagement_rate", M1)
    assert (numerator, denominator) == (860, 1500)
    assert value.quantize(SIX_PLACES) == Decimal("0.573333")  # 57.33 %
    assert month(acme, "engagement_rate", M2)[:3] == (Decimal("0.6"), 300, 500)
    paid = month(acme, "engagement_rate", M1, kind="channel", value="paid_search")
    assert paid[1:3] == (150, 200)
    assert month(acme, "web_conversion_rate", M1)[1:3] == (56, 1500)
    assert month(acme, "web_conversion_rate", M1)[0].quantize(SIX_PLACES) == Decimal("0.037333")
    assert month(acme, "web_conversion_rate", M2)[:3] == (Decimal("0.03"), 15, 500)

    assert month(acme, "spend", M1)[0] == Decimal("373.55")
    assert month(acme, "cac", M1)[1:3] == (Decimal("373.55"), 2)
    assert month(acme, "cac", M1)[0] == Decimal("186.775")
    assert month(acme, "cac", M2)[1:3] == (0, 1)
    roi = month(acme, "marketing_roi", M1)
    assert roi[1:3] == (Decimal("426.45"), Decimal("373.55"))
    assert roi[0].quantize(SIX_PLACES) == Decimal("1.141614")  # 426.45 / 373.55
    by_channel = month(acme, "marketing_roi", M1, kind="channel", value="paid_search")
    assert by_channel[1:3] == (Decimal("376.55"), Decimal("123.45"))
    by_campaign = month(acme, "marketing_roi", M1, kind="campaign", value="brand-search")
    assert by_campaign[1:3] == (Decimal("376.55"), Decimal("123.45"))
    roi_m2 = month(acme, "marketing_roi", M2)
    assert roi_m2[0] is None and roi_m2[3]  # no spend: no value, with the reason


def test_a_revision_read_again_moves_the_month_s_sessions_and_spend_by_exactly_its_change(
    acme, sandbox, connected
):
    """The day before yesterday's paid-search row goes from 100 sessions and 80.00 of ad cost
    to 130 sessions and 95.50 when GA4 revises it: its month gains 30 sessions and 15.50 of
    spend, and its engagement rate becomes the new sums' ratio (60 engaged sessions stay)."""
    day = RECENT[2]
    start = day.replace(day=1)
    in_month = [m for (d, _, _), m in ROWS.items() if d.replace(day=1) == start]
    sessions = sum(m["sessions"] for m in in_month)
    engaged = sum(m["engagedSessions"] for m in in_month)
    cost = sum(Decimal(m["advertiserAdCost"]) for m in in_month)
    with acme.activate():
        configure_company("USD", "UTC", "1")
    run_sync(acme, connected)
    with acme.activate():
        recompute_pending()

    def now() -> tuple:
        query = f"?grain=month&start={start}&end={day}"
        values = {}
        for kpi in ("sessions", "spend", "engagement_rate"):
            (row,) = acme.client("viewer").get(f"/api/v1/kpis/{kpi}/series/{query}").json()
            values[kpi] = (Decimal(row["value"]), Decimal(row["numerator"]), row["denominator"])
        return values["sessions"][0], values["spend"][0], values["engagement_rate"][1:]

    assert now() == (sessions, cost, (engaged, str(sessions)))
    sandbox.set_row(
        PROPERTY, day, "Paid Search", "brand-search", sessions=130, advertiserAdCost="95.50"
    )
    run_sync(acme, connected)
    with acme.activate():
        recompute_pending()
    assert now() == (sessions + 30, cost + Decimal("15.50"), (engaged, str(sessions + 30)))
