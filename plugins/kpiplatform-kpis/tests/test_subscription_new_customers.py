"""New customers: a customer counts in the period of its first paid day (first day with MRR or
first successful payment, in the company's time zone), whatever the first day recomputed.

Europe/Paris, EUR:

| customer | MRR | payments | first paid day |
| --- | --- | --- | --- |
| Q | 100 from 1 Apr 2025 | charge 10 Feb | 10 Feb |
| R | 50 from 5 Mar | charge 5 Mar 23:30 UTC (6 Mar in Paris) | 5 Mar |
| S | none | failed charge 1 Feb, refund 2 Feb, charge 31 Mar 23:30 UTC (1 Apr in Paris) | 1 Apr |
| T | 80 from 1 Feb | charge 31 Dec 2024 | 31 Dec 2024 |
| (none) | | charge 15 Jan without a customer | |
"""

from __future__ import annotations

import datetime as dt

from kpiplatform.facts import refresh as facts_refresh
from kpiplatform.kpis import engine
from kpiplatform.kpis.models import StoredKPIValue
from kpiplatform.testing.data import load_records
from kpiplatform.testing.kpis import configure_company, mrr_segment, stored_values

LAST_DAY = dt.date(2025, 4, 20)


def _payment(customer: str, at: dt.datetime, kind: str = "charge", status: str = "succeeded"):
    return {
        "customer_ref": customer,
        "occurred_at": at,
        "amount_minor": 1000,
        "currency": "EUR",
        "kind": kind,
        "status": status,
    }


def _new_customers_by_month() -> dict[dt.date, int]:
    return {start: int(v.value) for start, v in stored_values("new_customers").items()}


def test_new_customers_counts_each_customer_on_its_first_paid_day(acme):
    utc = dt.UTC
    with acme.activate():
        configure_company("EUR", "Europe/Paris", "1")
        load_records(
            "mrr_segments",
            [
                mrr_segment("Q", "2025-04-01", None, 100),
                mrr_segment("R", "2025-03-05", None, 50),
                mrr_segment("T", "2025-02-01", None, 80),
            ],
        )
        load_records(
            "payments",
            [
                _payment("Q", dt.datetime(2025, 2, 10, 12, tzinfo=utc)),
                _payment("R", dt.datetime(2025, 3, 5, 23, 30, tzinfo=utc)),
                _payment("S", dt.datetime(2025, 2, 1, 12, tzinfo=utc), status="failed"),
                _payment("S", dt.datetime(2025, 2, 2, 12, tzinfo=utc), kind="refund"),
                _payment("S", dt.datetime(2025, 3, 31, 23, 30, tzinfo=utc)),
                _payment("T", dt.datetime(2024, 12, 31, 12, tzinfo=utc)),
                _payment("", dt.datetime(2025, 1, 15, 12, tzinfo=utc)),
            ],
        )
        facts_refresh.rebuild_all(engine.build_context())
        expected = {
            dt.date(2024, 12, 1): 1,
            dt.date(2025, 1, 1): 0,
            dt.date(2025, 2, 1): 1,
            dt.date(2025, 3, 1): 1,
            dt.date(2025, 4, 1): 1,
        }
        report = engine.compute_kpis(keys=["new_customers"], last_day=LAST_DAY)
        assert not report.failed, report.failed
        assert _new_customers_by_month() == expected
        assert stored_values("new_customers", "day")[dt.date(2025, 3, 5)].value == 1
        assert stored_values("new_customers", "day")[dt.date(2025, 4, 1)].value == 1
        for first_day in (dt.date(2025, 3, 15), dt.date(2025, 4, 1), dt.date(2025, 2, 10)):
            StoredKPIValue.objects.filter(kpi="new_customers", period_end__gt=first_day).delete()
            report = engine.compute_kpis(
                keys=["new_customers"], first_day=first_day, last_day=LAST_DAY
            )
            assert not report.failed, report.failed
            assert _new_customers_by_month() == expected, first_day
