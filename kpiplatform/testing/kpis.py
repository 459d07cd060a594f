"""Computing KPIs in tests through the engine and reading back what it stored."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from kpiplatform.kpis import engine, recompute
from kpiplatform.kpis.models import CompanySettings, StoredKPIValue


def mrr_segment(
    customer: str, starts_on: str, ends_on: str | None, mrr: int, currency: str = "EUR"
) -> dict:
    """An MRR segment record: ``mrr`` in major units, days as YYYY-MM-DD, ``ends_on``
    exclusive (None: still running)."""
    return {
        "customer_ref": customer,
        "plan_ref": f"plan-{mrr}",
        "starts_on": dt.date.fromisoformat(starts_on),
        "ends_on": dt.date.fromisoformat(ends_on) if ends_on else None,
        "mrr_minor": mrr * 100,
        "currency": currency,
    }


# The MRR worked example (customers A to E, January to March 2025, EUR).
WORKED_EXAMPLE_SEGMENTS = [
    mrr_segment("A", "2025-01-01", "2025-02-10", 100),
    mrr_segment("A", "2025-02-10", None, 150),
    mrr_segment("B", "2025-01-01", "2025-02-15", 200),
    mrr_segment("C", "2025-01-20", "2025-03-01", 50),
    mrr_segment("C", "2025-03-01", None, 30),
    mrr_segment("D", "2025-02-05", None, 80),
    mrr_segment("E", "2025-01-01", "2025-01-31", 60),
    mrr_segment("E", "2025-03-10", None, 60),
]


def configure_company(
    reporting_currency: str = "EUR", time_zone: str = "UTC", gross_margin: str = "1"
) -> CompanySettings:
    """Set the current company's settings (without scheduling a recompute)."""
    settings = CompanySettings.current()
    settings.reporting_currency = reporting_currency
    settings.time_zone = time_zone
    settings.gross_margin = Decimal(gross_margin)
    settings.save()
    return settings


def recompute_all() -> engine.ComputationReport:
    """Rebuild the ledger and recompute every KPI, as ``manage.py recompute_kpis`` does."""
    return engine.recompute_everything()


def recompute_pending() -> engine.ComputationReport:
    """Run what the recompute task runs after data changes."""
    return recompute.recompute_pending()


def stored_values(
    key: str, grain: str = "month", segment_kind: str = "", segment: str = ""
) -> dict[dt.date, StoredKPIValue]:
    """Stored values of one KPI and grain, by period start."""
    return {
        value.period_start: value
        for value in StoredKPIValue.objects.filter(
            kpi=key, grain=grain, segment_kind=segment_kind, segment=segment
        )
    }
