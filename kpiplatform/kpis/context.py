"""The context a KPI computes with: SQL in the company's schema, settings, money conversion."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection

from kpiplatform.kpis.models import StoredKPIValue
from kpiplatform.sdk import KPIResult, Period

# ISO 4217 minor-unit exponents that are not 2; every other currency has 2 decimals.
CURRENCY_EXPONENTS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip


def minor_units_sql(currency_column: str, common: str = "") -> str:
    """SQL for the number of minor units in one major unit of the currency in
    ``currency_column``, testing the ``common`` currency first. Numeric literals per case:
    this is evaluated for every payment, where ``power()`` and a long CASE add up."""
    by_exponent: dict[int, list[str]] = {}
    for code, exp in sorted(CURRENCY_EXPONENTS.items()):
        by_exponent.setdefault(exp, []).append(f"'{code}'")
    cases = " ".join(
        f"WHEN {currency_column} IN ({', '.join(codes)}) THEN {10**exp}::numeric"
        for exp, codes in sorted(by_exponent.items())
    )
    first = ""
    if common and CURRENCY_EXPONENTS.get(common, 2) == 2:
        first = f"WHEN {currency_column} = '{common}' THEN 100::numeric "
    return f"(CASE {first}{cases} ELSE 100::numeric END)"


# The label of records whose customer has no country, channel or campaign (or no record).
UNKNOWN_LABEL = "unknown"


def label_sql(column: str) -> str:
    """SQL for a customer label: the text of ``column``, or ``unknown`` when empty or NULL."""
    return f"coalesce(nullif({column}, ''), '{UNKNOWN_LABEL}')"


def rate_sql(currency: str, day: str) -> str:
    """SQL for the latest exchange rate of ``currency`` on or before ``day`` (NULL: none);
    of two rates of one day (two sources), the latest written."""
    return (
        f"(SELECT r.rate FROM data_exchange_rates r WHERE r.currency = {currency} "
        f"AND r.day <= ({day}) AND r.deleted_at IS NULL ORDER BY r.day DESC, r.id DESC LIMIT 1)"
    )


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
        reporting = self.reporting_currency.replace("'", "")
        major = f"({amount_minor})::numeric / {minor_units_sql(currency, reporting)}"
        # Column names come from KPI code, never from user input.
        rate = rate_sql(currency, day)
        return f"(CASE WHEN {currency} = '{reporting}' THEN {major} ELSE {major} * {rate} END)"

    def local_date_sql(self, timestamp: str) -> str:
        """SQL for the calendar day of ``timestamp`` in the company's time zone."""
        zone = self.time_zone.replace("'", "")
        return f"(({timestamp}) AT TIME ZONE '{zone}')::date"


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
