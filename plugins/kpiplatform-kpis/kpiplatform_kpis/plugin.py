"""Entry point of the built-in KPI library."""

from kpiplatform.sdk import Tier, hookimpl

SDK_SUPPORTS = ">=1.0,<2"
TIER = Tier.ESSENTIAL  # the KPIs every page is built on: a company cannot switch them off


@hookimpl
def register_kpis():
    return []
