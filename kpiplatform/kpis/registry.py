"""Where the engine and the KPI API get KPI definitions: the plugins enabled in this company."""

from __future__ import annotations

from kpiplatform import plugins
from kpiplatform.sdk import KPI


def registered_kpis_by_plugin() -> dict[str, tuple[KPI, str]]:
    """Every KPI of the plugins enabled in the current company, with its plugin's name."""
    return {key: (kpi, plugin_name) for key, (plugin_name, kpi) in plugins.kpis().items()}


def registered_kpis() -> dict[str, KPI]:
    """Every KPI of the plugins enabled in the current company, by key."""
    return {key: kpi for key, (kpi, _) in registered_kpis_by_plugin().items()}
