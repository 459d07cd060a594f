"""Data of the report tests: MRR that moves in the last complete week, computed by hand."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from kpiplatform.sdk import Grain, Period
from kpiplatform.testing.data import load_records
from kpiplatform.testing.kpis import configure_company, mrr_segment, recompute_all

REPORT_KPIS = ["mrr", "active_customers", "customer_churn_rate"]


def last_week() -> Period:
    return Period.containing(Grain.WEEK, timezone.now().date()).previous()


def load_moving_mrr(recompute: bool = True) -> Period:
    """In the current company (UTC, EUR): A (100) since two weeks before the last complete
    week W, B (50) from W's second day, C (30) from two weeks before W to W's third day.
    MRR at the end of the week before W: A + C = 130; at the end of W: A + B = 150.
    Active customers: 2 and 2; customer churn in W: C, 1 of the 2 active at its start.

    ``recompute=False`` leaves the KPIs to the recomputes the writes schedule."""
    week = last_week()
    before = (week.start - dt.timedelta(days=14)).isoformat()
    configure_company("EUR", "UTC", "1")
    load_records("customers", [{"external_id": c, "country": "FR"} for c in "ABC"])
    load_records(
        "mrr_segments",
        [
            mrr_segment("A", before, None, 100),
            mrr_segment("B", (week.start + dt.timedelta(days=1)).isoformat(), None, 50),
            mrr_segment("C", before, (week.start + dt.timedelta(days=2)).isoformat(), 30),
        ],
    )
    if recompute:
        recompute_all()
    return week
