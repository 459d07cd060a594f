"""One customer across sources (docs/canonical-data.md, "One customer across sources"): a
CRM lead and a billing customer with the same e-mail are one person. The customer without a
channel of its own takes the channel and campaign of its earliest lead, the lead is linked
to the customer it became, and the KPIs by channel and the lead conversion follow, by hand
from docs/kpis.md; a later sync or relabel moves the history.

Company in UTC, EUR. Billing customers come from "stripe", leads from "hubspot":

- A, " Ada@Initech.example", no channel, MRR 100 from 10 Jan, paid 100 on 10 Jan; leads
  L1 (15 Dec, paid_search / brand-search) and L1b (5 Jan, email / newsletter).
- B, "bob@example.org", own channel partner / p1, MRR 200 from 20 Jan, paid 200 on 20 Jan;
  lead L2 (2 Jan, paid_social / founders).
- C, "cy@example.org", no channel, MRR 50 from 5 Feb, paid 50 on 5 Feb; lead L3 (15 Jan,
  paid_search / competitor-search).
- D, no e-mail, no channel, MRR 80 from 10 Feb, paid 80 on 10 Feb; no lead.

Leads that never match a customer: L4 (20 Jan, paid_search / brand-search), and L5 (1 Feb,
organic_search) whose CRM stage says it became a customer on 20 Feb.
Spend: January paid_search 200 (brand-search) + 100 (competitor-search), partner 100 (p1);
February paid_search 150 (competitor-search).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kpiplatform.data.writer import BulkWriter
from kpiplatform.facts.models import CustomerLabel, LeadCustomer
from kpiplatform.kpis.models import PendingChange
from kpiplatform.testing.data import load_records
from kpiplatform.testing.kpis import (
    configure_company,
    mrr_segment,
    recompute_all,
    recompute_pending,
    stored_values,
)
from kpiplatform.testing.shared import shared_company

DEC, JAN, FEB = dt.date(2024, 12, 1), dt.date(2025, 1, 1), dt.date(2025, 2, 1)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def lead(ref, email, created, channel, campaign="", **extra) -> dict:
    return {
        "external_id": ref,
        "email": email,
        "created_at": created,
        "channel": channel,
        "campaign": campaign,
        **extra,
    }


LEADS = [
    lead("L1", "ada@initech.example", utc(2024, 12, 15), "paid_search", "brand-search"),
    lead("L1b", " ADA@initech.example", utc(2025, 1, 5), "email", "newsletter"),
    lead("L2", "bob@example.org", utc(2025, 1, 2), "paid_social", "founders"),
    lead("L3", "cy@example.org", utc(2025, 1, 15), "paid_search", "competitor-search"),
    lead("L4", "dee@example.org", utc(2025, 1, 20), "paid_search", "brand-search"),
    lead("L5", "eve@example.org", utc(2025, 2, 1), "organic_search", customer_at=utc(2025, 2, 20)),
]


def spend(ref, day, channel, campaign, amount) -> dict:
    return {
        "external_id": ref,
        "spent_on": day,
        "channel": channel,
        "campaign": campaign,
        "amount_minor": amount * 100,
        "currency": "EUR",
    }


def _people() -> None:
    configure_company("EUR", "UTC", "1")
    customers = [
        {"external_id": "A", "email": " Ada@Initech.example", "created_at": utc(2025, 1, 9)},
        {
            "external_id": "B",
            "email": "bob@example.org",
            "channel": "partner",
            "campaign": "p1",
            "created_at": utc(2025, 1, 19),
        },
        {"external_id": "C", "email": "cy@example.org", "created_at": utc(2025, 2, 4)},
        {"external_id": "D", "email": "", "created_at": utc(2025, 2, 9)},
    ]
    load_records("customers", customers, source="stripe")
    load_records(
        "mrr_segments",
        [
            mrr_segment("A", "2025-01-10", None, 100),
            mrr_segment("B", "2025-01-20", None, 200),
            mrr_segment("C", "2025-02-05", None, 50),
            mrr_segment("D", "2025-02-10", None, 80),
        ],
        source="stripe",
    )
    load_records(
        "payments",
        [
            {
                "external_id": f"p{ref}",
                "customer_ref": ref,
                "occurred_at": at,
                "amount_minor": amount * 100,
                "currency": "EUR",
            }
            for ref, at, amount in (
                ("A", utc(2025, 1, 10, 9), 100),
                ("B", utc(2025, 1, 20, 9), 200),
                ("C", utc(2025, 2, 5, 9), 50),
                ("D", utc(2025, 2, 10, 9), 80),
            )
        ],
        source="stripe",
    )
    load_records("leads", LEADS, source="hubspot")
    load_records(
        "spend",
        [
            spend("s1", dt.date(2025, 1, 31), "paid_search", "brand-search", 200),
            spend("s2", dt.date(2025, 1, 31), "paid_search", "competitor-search", 100),
            spend("s3", dt.date(2025, 1, 31), "partner", "p1", 100),
            spend("s4", dt.date(2025, 2, 28), "paid_search", "competitor-search", 150),
        ],
    )
    recompute_all()
    PendingChange.objects.all().delete()


# One worker runs the module, so the people are computed once.
pytestmark = pytest.mark.xdist_group("one-customer-across-sources")


@pytest.fixture(scope="module")
def people_company(standing_companies, django_db_blocker):
    """The customers, leads, payments and spend, computed once in a company of its own."""
    with shared_company(django_db_blocker, "People Co", _people) as company:
        yield company


@pytest.fixture
def people(people_company, db):
    """The people's company, active; a test's writes and recomputes are rolled back."""
    with people_company.activate():
        yield people_company


def value(key: str, period: dt.date, kind: str = "", segment: str = "") -> Decimal | None:
    stored = stored_values(key, "month", kind, segment).get(period)
    return None if stored is None else stored.value


def parts(key: str, period: dt.date, kind: str, segment: str) -> tuple[Decimal, Decimal]:
    """The numerator and denominator of a stored value (exact, where the value is rounded)."""
    stored = stored_values(key, "month", kind, segment)[period]
    return stored.numerator, stored.denominator


def by_channel(key: str, period: dt.date) -> dict[str, Decimal]:
    from kpiplatform.kpis.models import StoredKPIValue

    return {
        v.segment: v.value
        for v in StoredKPIValue.objects.filter(
            kpi=key, grain="month", period_start=period, segment_kind="channel"
        )
        if v.value
    }


def test_a_customer_without_a_channel_takes_its_earliest_leads_and_its_own_wins(people):
    with people.activate():
        labels = {
            c.customer_ref: (c.channel, c.campaign, c.lead_ref)
            for c in CustomerLabel.objects.filter(source="stripe")
        }
        links = {
            lc.lead_ref: (lc.customer_source, lc.customer_ref, lc.customer_at)
            for lc in LeadCustomer.objects.all()
        }
    assert labels == {
        "A": ("paid_search", "brand-search", "L1"),  # L1 (15 Dec) before L1b (5 Jan)
        "B": ("partner", "p1", "L2"),  # its own channel and campaign win
        "C": ("paid_search", "competitor-search", "L3"),
        "D": ("", "", ""),  # no e-mail, no lead: unknown
    }
    # Each lead became the customer of its e-mail, on that customer's first paid day; L5
    # on the day its CRM stage says; L4 never.
    assert links == {
        "L1": ("stripe", "A", utc(2025, 1, 10)),
        "L1b": ("stripe", "A", utc(2025, 1, 10)),
        "L2": ("stripe", "B", utc(2025, 1, 20)),
        "L3": ("stripe", "C", utc(2025, 2, 5)),
        "L4": ("", "", None),
        "L5": ("", "", utc(2025, 2, 20)),
    }


def test_kpis_by_channel_and_the_lead_funnel_join_per_customer(people):
    with people.activate():
        # New customers (first paid day): January A (paid_search, from its lead), B (partner);
        # February C (paid_search), D (unknown).
        assert by_channel("new_customers", JAN) == {"paid_search": 1, "partner": 1}
        assert by_channel("new_customers", FEB) == {"paid_search": 1, "unknown": 1}
        # CAC = spend / new customers: January 400 / 2, February 150 / 2; by channel from
        # the same stored parts: paid_search spent 300 in January for one customer.
        assert value("cac", JAN) == 200
        assert value("cac", FEB) == 75
        assert value("spend", JAN, "channel", "paid_search") == 300
        assert value("spend", JAN, "channel", "paid_search") / value(
            "new_customers", JAN, "channel", "paid_search"
        ) == Decimal(300)
        # MRR at the end of February by channel: paid_search A 100 + C 50, partner B 200,
        # unknown D 80.
        assert by_channel("mrr", FEB) == {"paid_search": 150, "partner": 200, "unknown": 80}
        # Marketing ROI = (revenue to date of the customers acquired - spend) / spend.
        # January paid_search: (100 - 300) / 300; by campaign brand-search (A: 100 - 200)
        # / 200 and competitor-search (nobody: 0 - 100) / 100; partner (200 - 100) / 100.
        assert parts("marketing_roi", JAN, "channel", "paid_search") == (-200, 300)
        assert value("marketing_roi", JAN, "campaign", "brand-search") == Decimal("-0.5")
        assert value("marketing_roi", JAN, "campaign", "competitor-search") == -1
        assert value("marketing_roi", JAN, "channel", "partner") == 1
        # February paid_search: C acquired, 50 to date, spend 150.
        assert parts("marketing_roi", FEB, "channel", "paid_search") == (-100, 150)
        # Lead conversion: leads created in the period that became customers. December:
        # L1 (A) 1 / 1; January: L1b (A), L2 (B), L3 (C) of L1b, L2, L3, L4: 3 / 4;
        # February: L5 by its CRM stage, 1 / 1. January by channel: paid_search L3 of L3, L4.
        assert value("lead_conversion_rate", DEC) == 1
        assert value("lead_conversion_rate", JAN) == Decimal("0.75")
        assert value("lead_conversion_rate", FEB) == 1
        assert value("lead_conversion_rate", JAN, "channel", "paid_search") == Decimal("0.5")
        assert value("lead_conversion_rate", JAN, "channel", "email") == 1
        assert value("new_leads", JAN, "channel", "paid_search") == 2


def test_a_later_sync_or_relabel_moves_the_customers_history(people):
    with people.activate():
        # The CRM archives L1: A's earliest lead is now L1b (email / newsletter), for all
        # of A's history.
        BulkWriter("hubspot").delete("leads", ["L1"])
        recompute_pending()
        assert by_channel("new_customers", JAN) == {"email": 1, "partner": 1}
        assert by_channel("mrr", FEB) == {
            "email": 100,
            "paid_search": 50,
            "partner": 200,
            "unknown": 80,
        }
        # Without L1, December has no leads left: no value (no new leads).
        assert value("lead_conversion_rate", DEC) is None
        # D gets an e-mail in billing that a lead created in January has: D converts it.
        load_records(
            "leads", [lead("L6", "dee@d.example", utc(2025, 1, 25), "referral")], source="hubspot"
        )
        recompute_pending()
        assert parts("lead_conversion_rate", JAN, "", "") == (3, 5)
        load_records(
            "customers",
            [{"external_id": "D", "email": "DEE@d.example", "created_at": utc(2025, 2, 9)}],
            source="stripe",
        )
        recompute_pending()
        assert by_channel("new_customers", FEB) == {"paid_search": 1, "referral": 1}
        assert parts("lead_conversion_rate", JAN, "", "") == (4, 5)
        # A gets a channel of its own in billing: it wins over its lead's.
        load_records(
            "customers",
            [
                {
                    "external_id": "A",
                    "email": " Ada@Initech.example",
                    "channel": "partner",
                    "campaign": "p2",
                    "created_at": utc(2025, 1, 9),
                }
            ],
            source="stripe",
        )
        recompute_pending()
        assert by_channel("new_customers", JAN) == {"partner": 2}
        incremental = _every_value()
        recompute_all()
        assert _every_value() == incremental  # the refresh equals a full recompute


def test_a_first_payment_converts_a_lead_created_months_before(people):
    with people.activate():
        load_records(
            "customers",
            [{"external_id": "E", "email": "eve@example.org", "created_at": utc(2025, 3, 1)}],
            source="stripe",
        )
        recompute_pending()
        # E exists but has not paid: L4 is still not converted, L5 was by its CRM stage.
        assert value("lead_conversion_rate", JAN) == Decimal("0.75")
        load_records(
            "customers",
            [{"external_id": "F", "email": "dee@example.org", "created_at": utc(2025, 3, 1)}],
            source="stripe",
        )
        load_records(
            "payments",
            [
                {
                    "external_id": "pF",
                    "customer_ref": "F",
                    "occurred_at": utc(2025, 3, 3, 9),
                    "amount_minor": 5000,
                    "currency": "EUR",
                }
            ],
            source="stripe",
        )
        recompute_pending()
        # F's first payment (3 March) converts L4, created 20 January: 4 / 4.
        assert value("lead_conversion_rate", JAN) == 1
        # And F is counted under L4's channel and campaign.
        assert by_channel("new_customers", dt.date(2025, 3, 1)) == {"paid_search": 1}
        incremental = _every_value()
        recompute_all()
        assert _every_value() == incremental


def _every_value() -> dict:
    from kpiplatform.kpis.models import StoredKPIValue

    return {
        (v.kpi, v.grain, v.period_start, v.segment_kind, v.segment): (v.value, v.reason)
        for v in StoredKPIValue.objects.all()
    }
