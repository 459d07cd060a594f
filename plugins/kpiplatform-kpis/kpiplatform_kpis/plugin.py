"""Entry point of the built-in KPI library: every family module exposes ``KPIS``."""

from kpiplatform.sdk import KPI, Tier, hookimpl
from kpiplatform_kpis import acquisition, revenue, satisfaction, subscription, web

SDK_SUPPORTS = ">=1.4,<2"  # reads the lead customers (1.4)
TIER = Tier.ESSENTIAL  # the KPIs every page is built on: a company cannot switch them off

# One module per KPI family of docs/kpis.md.
FAMILIES = (subscription, revenue, acquisition, web, satisfaction)


@hookimpl
def register_kpis() -> list[KPI]:
    return [kpi for family in FAMILIES for kpi in family.KPIS]
