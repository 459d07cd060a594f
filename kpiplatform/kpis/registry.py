"""Where the engine and the KPI API get KPI definitions: the plugins enabled in this company."""

from __future__ import annotations

from kpiplatform import plugins
from kpiplatform.sdk import KPI


def registered_kpis_by_plugin(disabled: set[str] | None = None) -> dict[str, tuple[KPI, str]]:
    """Every KPI of the plugins enabled in the current company, with its plugin's name
    (``disabled``: the plugins the company has off, when the caller already read them)."""
    return {key: (kpi, name) for key, (name, kpi) in plugins.kpis(disabled).items()}


def registered_kpis(disabled: set[str] | None = None) -> dict[str, KPI]:
    """Every KPI of the plugins enabled in the current company, by key."""
    return {key: kpi for key, (kpi, _) in registered_kpis_by_plugin(disabled).items()}
