"""What a goal or an alert rule may point at: a KPI of the company, a grain, a segment the KPI
is broken down by. Errors are field -> message, for the API (400) and the forms alike."""

from __future__ import annotations

import datetime as dt

from kpiplatform.kpis.registry import registered_kpis
from kpiplatform.sdk import KPI, Grain, Period


def target_errors(
    kpi_key: str, grain: str, segment_kind: str = "", segment_value: str = ""
) -> tuple[KPI | None, dict[str, str]]:
    """The KPI, and the problems of the combination (empty when it is fine)."""
    errors: dict[str, str] = {}
    kpi = registered_kpis().get(kpi_key)
    if kpi is None:
        errors["kpi_key"] = f"No KPI with key {kpi_key!r} in this company."
    if grain not in {g.value for g in Grain}:
        errors["grain"] = f"Use one of {', '.join(g.value for g in Grain)}."
    if segment_kind:
        if kpi is not None and segment_kind not in kpi.segments:
            kinds = ", ".join(kpi.segments) or "nothing"
            errors["segment_kind"] = (
                f"{kpi_key} is not broken down by {segment_kind!r} (it is by {kinds})."
            )
        elif grain == Grain.DAY.value:
            errors["segment_kind"] = "Daily values have no breakdown; use a week or longer."
        if not segment_value:
            errors["segment_value"] = "Say which segment (e.g. the plan or the country)."
    elif segment_value:
        errors["segment_kind"] = "Say what kind of segment this is (e.g. plan, country)."
    return kpi, errors


def period_start_error(grain: str, period_start: dt.date | None) -> str:
    """A dated goal starts a period of its grain ("" when fine or undated)."""
    if period_start is None or grain not in {g.value for g in Grain}:
        return ""
    if Period.containing(Grain(grain), period_start).start != period_start:
        return f"{period_start.isoformat()} does not start a {grain}; give the first day."
    return ""
