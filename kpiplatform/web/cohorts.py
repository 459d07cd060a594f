"""Cohort retention by first-paid month, computed in SQL from the MRR movements ledger and
the customer facts (docs/dashboard.md, "Cohorts").

A cohort is the customers whose first paid day falls in one month. For each later month its
*customer retention* is the share of the cohort active (MRR > 0) at the end of that month and
its *MRR retention* the cohort's MRR at the end of that month over its MRR at the end of its
first month (like net revenue retention: expansion can take it past 100 %). A customer's MRR
on a day is the sum of its movements up to that day, so both are running sums of the
cohort's movements month by month: one pass over the ledger, no row per customer and month.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import cache
from django.db import connection
from django.db.models import Max

from kpiplatform.kpis.models import KPIComputation

COHORT_MONTHS = 12
# The tables of kpiplatform.facts.models.CustomerFact and MrrMovement.

COHORTS_SQL = """
WITH cohort AS (
    SELECT date_trunc('month', first_paid_day)::date AS month, count(*) AS customers
    FROM kpis_customer_fact
    WHERE first_paid_day >= %(first)s AND first_paid_day <= %(as_of)s
    GROUP BY 1
),
moves AS (
    SELECT date_trunc('month', f.first_paid_day)::date AS cohort,
           date_trunc('month', m.day)::date AS month,
           sum(m.amount) AS mrr_change,
           count(*) FILTER (WHERE m.kind IN ('new', 'reactivation'))
             - count(*) FILTER (WHERE m.kind = 'churn') AS active_change
    FROM kpis_mrr_movement m
    JOIN kpis_customer_fact f
      ON f.source = m.source AND f.customer_ref = m.customer_ref
    WHERE f.first_paid_day >= %(first)s AND f.first_paid_day <= %(as_of)s
      AND m.day <= %(as_of)s
    GROUP BY 1, 2
),
grid AS (
    SELECT c.month AS cohort, c.customers, g.month::date AS month
    FROM cohort c,
         generate_series(c.month, date_trunc('month', %(as_of)s::date), interval '1 month')
           AS g(month)
)
SELECT g.cohort, g.month, g.customers,
       sum(coalesce(mv.active_change, 0)) OVER running AS active,
       sum(coalesce(mv.mrr_change, 0)) OVER running AS mrr
FROM grid g
LEFT JOIN moves mv ON mv.cohort = g.cohort AND mv.month = g.month
WINDOW running AS (PARTITION BY g.cohort ORDER BY g.month)
ORDER BY g.cohort, g.month
"""


@dataclass(frozen=True)
class CohortCell:
    cohort: dt.date  # the first-paid month
    age: int  # months since it
    customers: int  # the cohort's size
    active: int  # of them, active at the end of the month (or today)
    mrr: Decimal  # their MRR then
    customer_retention: Decimal | None  # active ÷ customers
    mrr_retention: Decimal | None  # mrr ÷ the cohort's MRR at the end of its first month


def cohort_retention(as_of: dt.date, months: int = COHORT_MONTHS) -> list[CohortCell]:
    """The last ``months`` cohorts up to ``as_of`` (company today), each month of each."""
    first = dt.date(as_of.year, as_of.month, 1)
    for _ in range(months - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    with connection.cursor() as cursor:
        cursor.execute(COHORTS_SQL, {"first": first, "as_of": as_of})
        rows = cursor.fetchall()
    cells, base = [], {}
    for cohort, month, customers, active, mrr in rows:
        age = (month.year - cohort.year) * 12 + month.month - cohort.month
        if age == 0:
            base[cohort] = mrr
        start_mrr = base.get(cohort)
        cells.append(
            CohortCell(
                cohort=cohort,
                age=age,
                customers=customers,
                active=int(active),
                mrr=mrr,
                customer_retention=Decimal(int(active)) / customers if customers else None,
                mrr_retention=mrr / start_mrr if start_mrr else None,
            )
        )
    return cells


def cached_cohort_retention(as_of: dt.date) -> list[CohortCell]:
    """:func:`cohort_retention`, cached until the next computation or the next day. The
    cache's key function adds the company's schema (settings.CACHES), so no company reads
    another's cohorts."""
    computed = KPIComputation.objects.aggregate(last=Max("computed_at"))["last"]
    key = f"dashboard-cohorts:{as_of.isoformat()}:{computed.isoformat() if computed else '-'}"
    cells = cache.get(key)
    if cells is None:
        cells = cohort_retention(as_of)
        cache.set(key, cells, timeout=24 * 3600)
    return cells
