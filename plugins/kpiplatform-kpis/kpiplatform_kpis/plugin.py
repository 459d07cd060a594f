"""Entry point of the built-in KPI library."""

from kpiplatform.sdk import hookimpl


@hookimpl
def register_kpis():
    return []
