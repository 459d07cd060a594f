"""Web and customer-satisfaction KPIs against hand-worked examples (docs/kpis.md,
"Web" and "Customer satisfaction"). Company in Europe/Paris, months of January to March 2026.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from kpiplatform_kpis.satisfaction import CustomerSatisfaction, NetPromoterScore
from kpiplatform_kpis.web import EngagementRate, Sessions, WebConversionRate

from kpiplatform.data.models import SurveyResponse, WebTraffic
from kpiplatform.kpis.context import SqlKPIContext
from kpiplatform.sdk import Grain

PARIS = ZoneInfo("Europe/Paris")
JAN_1, MAR_31 = dt.date(2026, 1, 1), dt.date(2026, 3, 31)


def company() -> SqlKPIContext:
    return SqlKPIContext(
        reporting_currency="EUR", time_zone="Europe/Paris", gross_margin=Decimal("1")
    )


def test_web_rates_are_ratios_of_summed_daily_counts(canonical, compute):
    # | day | channel | sessions | engaged | with a key event |
    # | 1 Jan | organic | 100 | 60 | 5 |
    # | 2 Jan | organic | 50 | 30 | 5 |
    # | 2 Jan | paid | 50 | 10 | 10 |
    # | 3 Jan | paid | 900 | 900 | 900 | deleted upstream: never counted
    # | 1 Feb | organic | 0 | 0 | 0 |
    # Jan: 200 sessions; engagement 100 / 200 = 50 %; conversion 20 / 200 = 10 %.
    # organic: 150 sessions, 90 / 150 = 60 %, 10 / 150 = 6.67 %; paid: 50, 20 %, 20 %.
    # Feb: 0 sessions, so both rates are undefined.
    for day, channel, sessions, engaged, key_events, deleted in [
        (dt.date(2026, 1, 1), "organic", 100, 60, 5, False),
        (dt.date(2026, 1, 2), "organic", 50, 30, 5, False),
        (dt.date(2026, 1, 2), "paid", 50, 10, 10, False),
        (dt.date(2026, 1, 3), "paid", 900, 900, 900, True),
        (dt.date(2026, 2, 1), "organic", 0, 0, 0, False),
    ]:
        canonical(
            WebTraffic,
            day=day,
            channel=channel,
            sessions=sessions,
            engaged_sessions=engaged,
            key_event_sessions=key_events,
            users=sessions,
            deleted_at=dt.datetime(2026, 1, 4, tzinfo=PARIS) if deleted else None,
        )
    sessions = compute(Sessions(), company(), Grain.MONTH, JAN_1, MAR_31)
    engagement = compute(EngagementRate(), company(), Grain.MONTH, JAN_1, MAR_31)
    conversion = compute(WebConversionRate(), company(), Grain.MONTH, JAN_1, MAR_31)

    assert sessions.total("2026-01").value == 200
    assert sessions.segment("2026-01", "channel", "organic").value == 150
    assert sessions.total("2026-02").value == 0
    assert engagement.total("2026-01").value == Decimal("0.5")
    assert engagement.segment("2026-01", "channel", "organic").value == Decimal("0.6")
    assert engagement.segment("2026-01", "channel", "paid").value == Decimal("0.2")
    assert conversion.total("2026-01").value == Decimal("0.1")
    organic = conversion.segment("2026-01", "channel", "organic")
    assert (organic.numerator, organic.denominator) == (10, 150)
    assert conversion.segment("2026-01", "channel", "paid").value == Decimal("0.2")
    for rates in (engagement, conversion):
        for label in ("2026-02", "2026-03"):
            undefined = rates.total(label)
            assert (undefined.value, undefined.reason) == (None, "no sessions in this period")
        february_organic = rates.segment("2026-02", "channel", "organic")
        assert february_organic.value is None


def respond(canonical, kind: str, when: dt.datetime, score: int, scale: tuple[int, int]) -> None:
    canonical(
        SurveyResponse,
        kind=kind,
        responded_at=when,
        score=score,
        scale_min=scale[0],
        scale_max=scale[1],
    )


def test_csat_counts_the_top_two_points_of_each_responses_scale(canonical, compute):
    # Jan, on 1-5: 5, 4 (satisfied), 3, 1; on 0-10: 9 (satisfied: top two are 9 and 10), 8.
    # 3 satisfied of 6 responses = 50 %. Feb: one 5 on 1-5 = 100 %. Mar: no responses.
    # An NPS response in January is not a CSAT response.
    for day, score, scale in [
        (5, 5, (1, 5)),
        (6, 4, (1, 5)),
        (7, 3, (1, 5)),
        (8, 1, (1, 5)),
        (9, 9, (0, 10)),
        (10, 8, (0, 10)),
    ]:
        respond(canonical, "csat", dt.datetime(2026, 1, day, tzinfo=PARIS), score, scale)
    respond(canonical, "csat", dt.datetime(2026, 2, 3, tzinfo=PARIS), 5, (1, 5))
    respond(canonical, "nps", dt.datetime(2026, 1, 3, tzinfo=PARIS), 2, (0, 10))

    csat = compute(CustomerSatisfaction(), company(), Grain.MONTH, JAN_1, MAR_31)
    jan = csat.total("2026-01")
    assert (jan.value, jan.numerator, jan.denominator) == (Decimal("0.5"), 3, 6)
    assert csat.total("2026-02").value == 1
    march = csat.total("2026-03")
    assert (march.value, march.reason) == (None, "no CSAT responses in this period")


def test_nps_is_promoters_minus_detractors_in_points(canonical, compute):
    # Jan scores: 10, 9, 9, 8, 7, 6, 2, 10, 10, 5 -> promoters (9-10): 5, passives (7-8): 2,
    # detractors (0-6): 3; 50 % - 30 % = 20. Feb: a single 3 -> -100. Mar: no responses.
    # A CSAT response in January is not an NPS response.
    for day, score in enumerate([10, 9, 9, 8, 7, 6, 2, 10, 10, 5], start=1):
        respond(canonical, "nps", dt.datetime(2026, 1, day, 12, tzinfo=PARIS), score, (0, 10))
    respond(canonical, "nps", dt.datetime(2026, 2, 14, tzinfo=PARIS), 3, (0, 10))
    respond(canonical, "csat", dt.datetime(2026, 1, 20, tzinfo=PARIS), 1, (1, 5))

    nps = compute(NetPromoterScore(), company(), Grain.MONTH, JAN_1, MAR_31)
    assert nps.total("2026-01").value == Decimal("20")
    assert nps.total("2026-02").value == Decimal("-100")
    march = nps.total("2026-03")
    assert (march.value, march.reason) == (None, "no NPS responses in this period")
    # The quarter re-aggregates exactly: 100 x (5 - 3 - 1) / 11 responses.
    quarter = compute(NetPromoterScore(), company(), Grain.QUARTER, JAN_1, MAR_31)
    q1 = quarter.total("2026-Q1")
    assert (q1.numerator, q1.denominator) == (100, 11)
