"""Entry point of the built-in KPI library."""

from kpiplatform.sdk import hookimpl

from . import acquisition, revenue, satisfaction, web

MODULES = (
    revenue,
    acquisition,
    web,
    satisfaction,
)


@hookimpl
def register_kpis():
    return [kpi for module in MODULES for kpi in module.KPIS]
