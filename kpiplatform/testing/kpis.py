"""Computing KPIs in tests through the engine and reading back what it stored."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from kpiplatform.kpis import engine, recompute
from kpiplatform.kpis.models import CompanySettings, StoredKPIValue


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
