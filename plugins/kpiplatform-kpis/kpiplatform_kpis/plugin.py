"""Entry point of the built-in KPI library."""

from kpiplatform.sdk import Tier, hookimpl

from . import acquisition, revenue, satisfaction, web

SDK_SUPPORTS = ">=1.0,<2"
TIER = Tier.ESSENTIAL  # the KPIs every page is built on: a company cannot switch them off

MODULES = (
    revenue,
    acquisition,
    web,
    satisfaction,
)


@hookimpl
def register_kpis():
    return [kpi for module in MODULES for kpi in module.KPIS]
