"""A company's data for drill-down tests: the MRR worked example of docs/kpis.md with one
more customer, payments, spend and leads, and the numbers each drill must show, worked out by
hand (not by the code under test).

Customers A to E follow the worked example (January to March 2025, EUR); F pays 40 a month
from 1 January until 20 February, so February has two churns: B (-200) and F (-40).

| month | new | reactivation | expansion | contraction | churn | MRR at end |
| --- | --- | --- | --- | --- | --- | --- |
| Jan | 100 + 200 + 50 + 60 + 40 = 450 | 0 | 0 | 0 | -60 (E) | 390 |
| Feb | 80 (D) | 0 | 50 (A) | 0 | -240 (B, F) | 280 |
| Mar | 0 | 60 (E) | 0 | -20 (C) | 0 | 320 |

February's payments (EUR unless said; 1 USD = 0.9 EUR from 1 January): A 100.00 (invoice),
D 80.00 (invoice), A 25.50 (order), A's refund 10.00, C 30.00 USD (order, 27.00 EUR), and a
failed charge of B that never counts. Revenue 222.50, gross revenue 232.50, orders 2 worth
52.50 (average 26.25). Spend: google/brand 300.00 EUR and meta/retargeting 100.00 USD (90.00
EUR): 390.00; new customers in February: D alone, so CAC 390.00. Leads created in February:
three (two google, one meta), one of them (D's) a customer since 5 February: CPL 130.00.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from kpiplatform.testing.data import load_records
from kpiplatform.testing.kpis import WORKED_EXAMPLE_SEGMENTS, configure_company, mrr_segment

CUSTOMERS = {
    "A": ("Alpha Ltd", "FR"),
    "B": ("Bravo SA", "FR"),
    "C": ("Charlie GmbH", "DE"),
    "D": ("Delta AG", "DE"),
    "E": ("Echo SARL", "FR"),
    "F": ("Foxtrot KG", "DE"),
}
FEBRUARY = dt.date(2025, 2, 1)
# February's churn, by hand: B's 200 and F's 40.
FEBRUARY_CHURN = {"B": Decimal(-200), "F": Decimal(-40)}
FEBRUARY_MOVEMENTS = {
    "mrr_start": Decimal(390),
    "new": Decimal(80),
    "reactivation": Decimal(0),
    "expansion": Decimal(50),
    "contraction": Decimal(0),
    "churn": Decimal(-240),
    "mrr_end": Decimal(280),
}
FEBRUARY_REVENUE = Decimal("222.50")
FEBRUARY_ORDERS = (2, Decimal("52.50"))
FEBRUARY_SPEND = Decimal("390.00")
FEBRUARY_LEADS = (3, 1)


def _at(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00")


def load_drill_example() -> None:
    """Load the example into the current company (EUR, UTC) through the bulk writer."""
    configure_company("EUR", "UTC")
    load_records(
        "customers",
        [
            {"external_id": ref, "name": name, "country": country, "channel": "google"}
            for ref, (name, country) in CUSTOMERS.items()
        ],
    )
    load_records("exchange_rates", [{"day": dt.date(2025, 1, 1), "currency": "USD", "rate": "0.9"}])
    load_records(
        "mrr_segments",
        [*WORKED_EXAMPLE_SEGMENTS, mrr_segment("F", "2025-01-01", "2025-02-20", 40)],
    )
    charge = {"kind": "charge", "status": "succeeded", "currency": "EUR"}
    load_records(
        "payments",
        [
            {**charge, "external_id": "pay-a-1", "customer_ref": "A",
             "occurred_at": _at("2025-02-03"), "amount_minor": 10000},
            {**charge, "external_id": "pay-d-1", "customer_ref": "D",
             "occurred_at": _at("2025-02-05"), "amount_minor": 8000},
            {**charge, "external_id": "order-a-1", "customer_ref": "A", "is_order": True,
             "occurred_at": _at("2025-02-14"), "amount_minor": 2550},
            {**charge, "external_id": "refund-a-1", "customer_ref": "A", "kind": "refund",
             "occurred_at": _at("2025-02-20"), "amount_minor": 1000},
            {**charge, "external_id": "order-c-1", "customer_ref": "C", "is_order": True,
             "currency": "USD", "occurred_at": _at("2025-02-10"), "amount_minor": 3000},
            {**charge, "external_id": "failed-b-1", "customer_ref": "B", "status": "failed",
             "occurred_at": _at("2025-02-11"), "amount_minor": 99900},
        ],
    )  # fmt: skip
    load_records(
        "spend",
        [
            {"external_id": "sp-1", "spent_on": dt.date(2025, 2, 1), "channel": "google",
             "campaign": "brand", "amount_minor": 30000, "currency": "EUR"},
            {"external_id": "sp-2", "spent_on": dt.date(2025, 2, 15), "channel": "meta",
             "campaign": "retargeting", "amount_minor": 10000, "currency": "USD"},
        ],
    )  # fmt: skip
    load_records(
        "leads",
        [
            {"external_id": "lead-1", "email": "d@delta.test", "created_at": _at("2025-02-02"),
             "channel": "google", "campaign": "brand", "customer_ref": "D",
             "customer_at": _at("2025-02-05")},
            {"external_id": "lead-2", "email": "x@x.test", "created_at": _at("2025-02-10"),
             "channel": "google", "campaign": "brand"},
            {"external_id": "lead-3", "email": "y@y.test", "created_at": _at("2025-02-20"),
             "channel": "meta", "campaign": "retargeting"},
        ],
    )  # fmt: skip
