"""The context a KPI computes with: SQL in the company's schema, settings, money conversion."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection

from kpiplatform.facts.money import literal, rate_on_sql, to_reporting_sql
from kpiplatform.kpis.models import StoredKPIValue
from kpiplatform.sdk import KPIResult, Period


@dataclass
class SqlKPIContext:
    """Implements kpiplatform.sdk.KPIContext for the company whose schema is active."""

    reporting_currency: str
    time_zone: str
    gross_margin: Decimal
    as_of: dt.date = field(default_factory=dt.date.today)
    computed: dict[str, dict[Period, KPIResult]] = field(default_factory=dict)
    memo: dict[Any, Any] = field(default_factory=dict)

    def query(self, sql: str, params: Sequence[Any] | dict | None = None) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def values_of(self, key: str, periods: Sequence[Period]) -> dict[Period, KPIResult]:
        known = self.computed.get(key, {})
        missing = [period for period in periods if period not in known]
        if missing:
            known = {**known, **_stored_values(key, missing)}
        return {period: known[period] for period in periods if period in known}

    def money_sql(self, amount_minor: str, currency: str, day: str) -> str:
        """SQL converting ``amount_minor`` of ``currency`` to major units of the reporting
        currency, at the latest rate on or before ``day``. NULL when no rate is known: the
        caller leaves such records out and reports them as a data-quality warning."""
        # Column names come from KPI code, never from user input.
        return to_reporting_sql(
            amount_minor, currency, self.reporting_currency, rate_on_sql(currency, day)
        )

    def local_date_sql(self, timestamp: str) -> str:
        """SQL for the calendar day of ``timestamp`` in the company's time zone."""
        return f"(({timestamp}) AT TIME ZONE {literal(self.time_zone)})::date"


def _stored_values(key: str, periods: Sequence[Period]) -> dict[Period, KPIResult]:
    """Values of ``key`` as last stored (all segments combined), for periods of one grain."""
    by_start = {period.start: period for period in periods}
    rows = StoredKPIValue.objects.filter(
        kpi=key,
        grain=periods[0].grain.value,
        period_start__in=list(by_start),
        segment_kind="",
        segment="",
    ).values_list("period_start", "value", "numerator", "denominator", "reason")
    return {
        by_start[start]: KPIResult(value, numerator, denominator, reason)
        for start, value, numerator, denominator, reason in rows
    }
