"""Like-for-like values of a previous period's first days, for a current unfinished period.

The current period is stored "to date" (the engine measures a period reaching past today up
to today). Its fair comparison is the same number of days at the start of the previous
period, which is no stored period; it is re-aggregated from the stored daily values, in one
query, by how each KPI's days combine (KPI definitions, docs/kpis.md):

- a state at the end of the period (MRR, active customers, ARPA): the last day's value;
- a sum over the period (revenue, movements, new customers, spend...): the days' values
  summed;
- a ratio of two sums (CAC, CPL, conversion rates, CSAT, NPS...): the days' numerators summed
  over the days' denominators summed;
- events over a state at the start (churn rates): the days' numerators summed over the first
  day's denominator.

Other KPIs (retention of a cohort, distinct customers, CLV) do not combine from days: they get
no like-for-like value, with the reason, rather than a wrong one. KPIs of other plugins are
not known here and get none either.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from kpiplatform.kpis.models import StoredKPIValue
from kpiplatform.sdk import Grain, Period

END_STATE = "end state"
SUM = "sum"
RATIO_OF_SUMS = "ratio of sums"
EVENTS_OVER_START = "events over the start"

DAY_COMBINATION = {
    **dict.fromkeys(("mrr", "arr", "active_customers", "arpa"), END_STATE),
    **dict.fromkeys(
        (
            "net_new_mrr",
            "new_business_mrr",
            "expansion_mrr",
            "contraction_mrr",
            "churned_mrr",
            "reactivation_mrr",
            "new_customers",
            "churned_customers",
            "revenue",
            "gross_revenue",
            "orders",
            "spend",
            "new_leads",
            "sessions",
        ),
        SUM,
    ),
    **dict.fromkeys(
        (
            "cac",
            "cost_per_lead",
            "average_order_value",
            "lead_conversion_rate",
            "marketing_roi",
            "deal_win_rate",
            "engagement_rate",
            "web_conversion_rate",
            "csat",
            "nps",
        ),
        RATIO_OF_SUMS,
    ),
    **dict.fromkeys(
        ("customer_churn_rate", "gross_mrr_churn_rate", "net_mrr_churn_rate"), EVENTS_OVER_START
    ),
}
NOT_COMBINABLE = "no like-for-like value for part of a period"
NO_DAYS = "no daily values for those days"


def comparison_window(previous: Period, days: int) -> tuple[dt.date, dt.date]:
    """The first ``days`` days of ``previous`` as [first, last], never past its end (the
    31st of March compares with the end of February)."""
    last = min(previous.start + dt.timedelta(days=days - 1), previous.last_day)
    return previous.start, last


def same_days_of(
    keys: list[str], previous: Period, days: int
) -> dict[str, tuple[dict | None, str]]:
    """For each KPI: the value of the first ``days`` days of ``previous`` as a stored-row-like
    dict (value, numerator, denominator, reason), or None and why not."""
    first, last = comparison_window(previous, days)
    combinable = [key for key in keys if key in DAY_COMBINATION]
    rows = (
        StoredKPIValue.objects.filter(
            kpi__in=combinable,
            grain=Grain.DAY.value,
            segment_kind="",
            segment="",
            period_start__gte=first,
            period_start__lte=last,
        )
        .order_by("period_start")
        .values_list("kpi", "period_start", "value", "numerator", "denominator")
    )
    days_by_kpi: dict[str, list[tuple]] = {}
    for kpi, start, value, numerator, denominator in rows:
        days_by_kpi.setdefault(kpi, []).append((start, value, numerator, denominator))
    result = {}
    for key in keys:
        how = DAY_COMBINATION.get(key)
        if how is None:
            result[key] = (None, NOT_COMBINABLE)
        elif not days_by_kpi.get(key):
            result[key] = (None, NO_DAYS)
        else:
            result[key] = (_combine(how, days_by_kpi[key], first, last), "")
    return result


def _combine(how: str, days: list[tuple], first: dt.date, last: dt.date) -> dict:
    if how == END_STATE:
        start, value, numerator, denominator = days[-1]
        if start != last:  # the last day has no stored value: no state to compare with
            return _row(None, None, None, NO_DAYS)
        return _row(value, numerator, denominator)
    numerator = sum((day[2] or Decimal(0) for day in days), Decimal(0))
    if how == SUM:
        return _row(sum((day[1] or Decimal(0) for day in days), Decimal(0)), numerator, Decimal(1))
    if how == RATIO_OF_SUMS:
        denominator = sum((day[3] or Decimal(0) for day in days), Decimal(0))
    else:  # EVENTS_OVER_START: the state at the start of the window is the first day's
        if days[0][0] != first:
            return _row(None, numerator, None, NO_DAYS)
        denominator = days[0][3] or Decimal(0)
    if not denominator:
        return _row(None, numerator, denominator, "zero denominator over those days")
    return _row(numerator / denominator, numerator, denominator)


def _row(value, numerator, denominator, reason: str = "") -> dict:
    return {"value": value, "numerator": numerator, "denominator": denominator, "reason": reason}
