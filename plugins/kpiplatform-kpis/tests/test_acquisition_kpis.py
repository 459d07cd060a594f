"""Acquisition and marketing KPIs against a hand-worked example (docs/kpis.md,
"Acquisition and marketing"). Company in Europe/Paris, reporting in EUR, January to March 2026.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from kpiplatform_kpis.acquisition import (
    CacPaybackMonths,
    CostPerLead,
    CustomerAcquisitionCost,
    DealWinRate,
    LeadConversionRate,
    LifetimeValueToCac,
    MarketingRoi,
    NewLeads,
)
from kpiplatform_kpis.acquisition import Spend as SpendKPI
from kpiplatform_kpis.subscription import NEW_CUSTOMERS

from kpiplatform.data.models import (
    Customer,
    Deal,
    ExchangeRate,
    Lead,
    MrrSegment,
    Payment,
    Spend,
    WebTraffic,
)
from kpiplatform.kpis.context import SqlKPIContext
from kpiplatform.sdk import Grain, KPIResult, Period

PARIS = ZoneInfo("Europe/Paris")
JAN_1, MAR_31 = dt.date(2026, 1, 1), dt.date(2026, 3, 31)
JAN, FEB, MAR = Period.between(Grain.MONTH, JAN_1, MAR_31)


def paris(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=PARIS)


def company(gross_margin: str = "1") -> SqlKPIContext:
    return SqlKPIContext(
        reporting_currency="EUR", time_zone="Europe/Paris", gross_margin=Decimal(gross_margin)
    )


@pytest.fixture
def rates(canonical):
    """1 USD = 0.90 EUR from 1 Dec 2025 and 0.80 EUR from 15 Feb 2026; no GBP rate."""
    canonical(ExchangeRate, day=dt.date(2025, 12, 1), currency="USD", rate=Decimal("0.9"))
    canonical(ExchangeRate, day=dt.date(2026, 2, 15), currency="USD", rate=Decimal("0.8"))


@pytest.fixture
def spend(canonical, rates):
    """| entry | day | channel / campaign | amount | counts |
    | s1 | 5 Jan | ads / winter | 600.00 EUR | Jan 600 |
    | s2 | 20 Jan | seo / (none) | 200.00 EUR | Jan 200, campaign "unknown" |
    | s3 | 25 Jan | ads / winter | 100.00 USD | Jan 100 x 0.90 = 90 |
    | w1 | 15 Jan | ads (web ad cost) | 110.00 EUR | Jan 110, campaign "unknown" |
    | s4 | 3 Feb | ads / spring | 500.00 EUR | Feb 500 |
    | s5 | 10 Feb | ads / spring | 50.00 GBP | left out: no GBP rate |
    | s6 | 6 Jan | ads / winter | 999.00 EUR, deleted | never |

    Jan: 600 + 200 + 90 + 110 = 1000 (ads 800, seo 200; winter 690, unknown 310). Feb: 500.
    """
    for day, channel, campaign, amount_minor, currency, deleted in [
        (dt.date(2026, 1, 5), "ads", "winter", 60000, "EUR", False),
        (dt.date(2026, 1, 20), "seo", "", 20000, "EUR", False),
        (dt.date(2026, 1, 25), "ads", "winter", 10000, "USD", False),
        (dt.date(2026, 2, 3), "ads", "spring", 50000, "EUR", False),
        (dt.date(2026, 2, 10), "ads", "spring", 5000, "GBP", False),
        (dt.date(2026, 1, 6), "ads", "winter", 99900, "EUR", True),
    ]:
        canonical(
            Spend,
            spent_on=day,
            channel=channel,
            campaign=campaign,
            amount_minor=amount_minor,
            currency=currency,
            deleted_at=paris(2026, 1, 7) if deleted else None,
        )
    canonical(
        WebTraffic,
        day=dt.date(2026, 1, 15),
        channel="ads",
        sessions=40,
        ad_cost_minor=11000,
        currency="EUR",
    )


def test_spend_adds_entries_and_ad_cost_in_the_reporting_currency(spend, compute):
    values = compute(SpendKPI(), company(), Grain.MONTH, JAN_1, MAR_31)
    assert values.total("2026-01").value == Decimal("1000")
    assert values.total("2026-02").value == Decimal("500")
    assert values.total("2026-03").value == Decimal("0")
    assert values.segment("2026-01", "channel", "ads").value == Decimal("800")
    assert values.segment("2026-01", "channel", "seo").value == Decimal("200")
    assert values.segment("2026-01", "campaign", "winter").value == Decimal("690")
    assert values.segment("2026-01", "campaign", "unknown").value == Decimal("310")


def test_cac_divides_spend_by_the_subscription_familys_new_customers(spend, compute):
    context = company()
    # New customers as the subscription KPIs count them for the customers of the ROI test
    # below: Jan 4 (A, B, E, F), Feb 1 (C), Mar 0.
    context.computed["new_customers"] = {
        JAN: KPIResult.amount(4),
        FEB: KPIResult.amount(1),
        MAR: KPIResult.amount(0),
    }
    cac = compute(CustomerAcquisitionCost(), context, Grain.MONTH, JAN_1, MAR_31)
    assert cac.total("2026-01").value == Decimal("250")  # 1000 / 4
    assert cac.total("2026-02").value == Decimal("500")  # 500 / 1
    march = cac.total("2026-03")
    assert march.value is None
    assert march.reason == "no new customers in this period"


def test_ltv_to_cac_and_cac_payback_read_clv_cac_and_arpa():
    context = company(gross_margin="0.8")
    context.computed["cac"] = {
        JAN: KPIResult.ratio(1000, 4, ""),  # 250
        FEB: KPIResult.ratio(500, 1, ""),  # 500
        MAR: KPIResult.ratio(0, 0, "no new customers in this period"),
    }
    context.computed["clv"] = {
        JAN: KPIResult.amount(1000),
        FEB: KPIResult(None, reason="no churn observed"),
        MAR: KPIResult.amount(900),
    }
    context.computed["arpa"] = {
        JAN: KPIResult.amount(125),
        FEB: KPIResult.amount(100),
        MAR: KPIResult.amount(90),
    }
    periods = [JAN, FEB, MAR]

    ltv = {v.period: v.result for v in LifetimeValueToCac().compute(context, periods)}
    assert ltv[JAN].value == Decimal("4")  # 1000 / 250
    assert (ltv[FEB].value, ltv[FEB].reason) == (None, "no CLV: no churn observed")
    assert (ltv[MAR].value, ltv[MAR].reason) == (None, "no CAC: no new customers in this period")

    payback = {v.period: v.result for v in CacPaybackMonths().compute(context, periods)}
    assert payback[JAN].value == Decimal("2.5")  # 250 / (125 x 0.8 = 100)
    assert payback[FEB].value == Decimal("6.25")  # 500 / (100 x 0.8 = 80)
    assert payback[MAR].value is None
    assert payback[MAR].reason == "no CAC: no new customers in this period"


@pytest.fixture
def leads(canonical):
    """| lead | created (Paris) | channel / campaign | became a customer |
    | l1 | 3 Jan | ads / winter | 20 Jan |
    | l2 | 10 Jan | ads / winter | no |
    | l3 | 31 Jan 23:30 (22:30 UTC) | seo / (none) | 1 Mar |
    | l4 | 15 Jan, deleted | ads / winter | no |
    | l5 | 2 Feb | ads / spring | no |

    Jan: 3 leads (ads 2, seo 1; winter 2, unknown 1), 2 converted. Feb: 1 lead, 0 converted.
    """
    for created, channel, campaign, customer_at, deleted in [
        (paris(2026, 1, 3), "ads", "winter", paris(2026, 1, 20), False),
        (paris(2026, 1, 10), "ads", "winter", None, False),
        (paris(2026, 1, 31, 23, 30), "seo", "", paris(2026, 3, 1), False),
        (paris(2026, 1, 15), "ads", "winter", None, True),
        (paris(2026, 2, 2), "ads", "spring", None, False),
    ]:
        canonical(
            Lead,
            created_at=created,
            channel=channel,
            campaign=campaign,
            customer_at=customer_at,
            deleted_at=paris(2026, 1, 16) if deleted else None,
        )


def test_new_leads_count_leads_created_in_the_period(leads, compute):
    new_leads = compute(NewLeads(), company(), Grain.MONTH, JAN_1, MAR_31)
    assert new_leads.total("2026-01").value == 3
    assert new_leads.total("2026-02").value == 1
    assert new_leads.total("2026-03").value == 0
    assert new_leads.segment("2026-01", "channel", "ads").value == 2
    assert new_leads.segment("2026-01", "campaign", "unknown").value == 1


def test_cost_per_lead_matches_spend_and_leads_by_channel(spend, leads, compute):
    cpl = compute(CostPerLead(), company(), Grain.MONTH, JAN_1, MAR_31)
    jan = cpl.total("2026-01")
    assert (jan.numerator, jan.denominator) == (1000, 3)  # 333.33 per lead
    assert round(jan.value, 2) == Decimal("333.33")
    assert cpl.segment("2026-01", "channel", "ads").value == Decimal("400")  # 800 / 2
    assert cpl.segment("2026-01", "channel", "seo").value == Decimal("200")  # 200 / 1
    assert cpl.total("2026-02").value == Decimal("500")  # 500 / 1
    march = cpl.total("2026-03")
    assert (march.value, march.reason) == (None, "no new leads in this period")


def test_lead_conversion_rate_counts_leads_that_became_customers_by_now(leads, compute):
    rate = compute(LeadConversionRate(), company(), Grain.MONTH, JAN_1, MAR_31)
    jan = rate.total("2026-01")
    assert (jan.numerator, jan.denominator) == (2, 3)  # l1 and l3 of l1, l2, l3: 66.67 %
    assert rate.total("2026-02").value == 0  # l5 has not converted
    assert rate.segment("2026-01", "channel", "seo").value == 1  # l3
    march = rate.total("2026-03")
    assert (march.value, march.reason) == (None, "no new leads in this period")


@pytest.fixture
def acquired_customers(canonical, rates):
    """First paid day = first day with MRR > 0 or first successful payment, the earlier.

    | customer | channel / campaign | paid history | first paid day | revenue to date |
    | A | ads / winter | MRR from 10 Jan; 100.00 EUR on 10 Jan, 10 Feb, 10 Mar | 10 Jan | 300 |
    | B | seo / (none) | order 150 USD 20 Jan; refund 20 USD 16 Feb | 20 Jan | 135 - 16 = 119 |
    | E | ads / winter | MRR from 25 Jan; first payment 50.00 EUR on 1 Feb | 25 Jan | 50 |
    | F | seo / (none) | 81.00 EUR order 28 Jan; a failed 500.00 EUR charge | 28 Jan | 81 |
    | C | ads / spring | MRR from 5 Feb; 200.00 EUR on 5 Feb | 5 Feb | 200 |
    | D | ads / winter | MRR from 1 Dec 2025; 100.00 EUR on 1 Jan | Dec 2025 | (not in Q1) |

    B's order is 150 x 0.90 = 135 EUR; its refund 20 x 0.80 = 16 EUR (the rate of 16 Feb).
    Acquired in Jan: A, B, E, F with 300 + 119 + 50 + 81 = 550 (ads 350, seo 200; winter 350,
    unknown 200). Acquired in Feb: C with 200 (ads, spring).
    """
    for ref, channel, campaign in [
        ("A", "ads", "winter"),
        ("B", "seo", ""),
        ("C", "ads", "spring"),
        ("D", "ads", "winter"),
        ("E", "ads", "winter"),
        ("F", "seo", ""),
    ]:
        canonical(Customer, external_id=ref, channel=channel, campaign=campaign)
    for ref, starts_on in [
        ("A", dt.date(2026, 1, 10)),
        ("C", dt.date(2026, 2, 5)),
        ("D", dt.date(2025, 12, 1)),
        ("E", dt.date(2026, 1, 25)),
    ]:
        canonical(
            MrrSegment, customer_ref=ref, starts_on=starts_on, mrr_minor=10000, currency="EUR"
        )
    for ref, when, amount_minor, currency, fields in [
        ("A", paris(2026, 1, 10), 10000, "EUR", {}),
        ("A", paris(2026, 2, 10), 10000, "EUR", {}),
        ("A", paris(2026, 3, 10), 10000, "EUR", {}),
        ("B", paris(2026, 1, 20), 15000, "USD", {"is_order": True}),
        ("B", paris(2026, 2, 16), 2000, "USD", {"kind": "refund"}),
        ("E", paris(2026, 2, 1), 5000, "EUR", {}),
        ("F", paris(2026, 1, 28), 8100, "EUR", {"is_order": True}),
        ("F", paris(2026, 1, 29), 50000, "EUR", {"status": "failed"}),
        ("C", paris(2026, 2, 5), 20000, "EUR", {}),
        ("D", paris(2026, 1, 1, 9), 10000, "EUR", {}),
    ]:
        canonical(
            Payment,
            customer_ref=ref,
            occurred_at=when,
            amount_minor=amount_minor,
            currency=currency,
            **fields,
        )


def test_marketing_roi_compares_revenue_to_date_of_acquired_customers_with_spend(
    spend, acquired_customers, compute
):
    roi = compute(MarketingRoi(), company(), Grain.MONTH, JAN_1, MAR_31)
    jan = roi.total("2026-01")
    # (550 - 1000) / 1000 = -45 %
    assert (jan.value, jan.numerator, jan.denominator) == (Decimal("-0.45"), -450, 1000)
    assert roi.segment("2026-01", "channel", "ads").value == Decimal("-0.5625")  # (350-800)/800
    assert roi.segment("2026-01", "channel", "seo").value == Decimal("0")  # (200-200)/200
    winter = roi.segment("2026-01", "campaign", "winter")
    assert (winter.numerator, winter.denominator) == (-340, 690)  # (350 - 690) / 690
    unknown = roi.segment("2026-01", "campaign", "unknown")
    assert (unknown.numerator, unknown.denominator) == (-110, 310)  # (200 - 310) / 310
    assert roi.total("2026-02").value == Decimal("-0.6")  # (200 - 500) / 500
    assert roi.segment("2026-02", "campaign", "spring").value == Decimal("-0.6")
    march = roi.total("2026-03")
    assert (march.value, march.reason) == (None, "no spend in this period")


def test_new_customers_break_down_by_campaign_for_a_campaigns_cac(
    spend, acquired_customers, compute
):
    # Acquired in January: A and E (winter), B and F (no campaign); in February: C (spring).
    new = compute(NEW_CUSTOMERS, company(), Grain.MONTH, JAN_1, MAR_31)
    assert new.total("2026-01").value == 4
    assert new.segment("2026-01", "campaign", "winter").value == 2
    assert new.segment("2026-01", "campaign", "unknown").value == 2
    assert new.segment("2026-02", "campaign", "spring").value == 1
    assert new.segment("2026-01", "channel", "ads").value == 2  # the other breakdowns stay


def test_deal_win_rate_divides_won_by_closed_deals(canonical, compute):
    # Jan: d1 won, d2 lost, d3 won (closed 31 Jan 23:30 Paris) -> 2 / 3. d4 is still open;
    # d6 closed in December. Feb: d5 lost -> 0 / 1. Mar: nothing closed.
    for status, closed_at in [
        ("won", paris(2026, 1, 5)),
        ("lost", paris(2026, 1, 20)),
        ("won", paris(2026, 1, 31, 23, 30)),
        ("open", None),
        ("lost", paris(2026, 2, 10)),
        ("won", paris(2025, 12, 31, 12)),
    ]:
        canonical(Deal, status=status, closed_at=closed_at)
    win_rate = compute(DealWinRate(), company(), Grain.MONTH, JAN_1, MAR_31)
    jan = win_rate.total("2026-01")
    assert (jan.numerator, jan.denominator) == (2, 3)
    assert win_rate.total("2026-02").value == 0
    march = win_rate.total("2026-03")
    assert (march.value, march.reason) == (None, "no deals closed in this period")
