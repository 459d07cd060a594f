"""Entry point of the built-in KPI library: every family module exposes ``KPIS``."""

from kpiplatform.sdk import KPI, hookimpl
from kpiplatform_kpis import subscription

# One module per KPI family of KPI-DEFINITIONS.md.
FAMILIES = (subscription,)


@hookimpl
def register_kpis() -> list[KPI]:
    return [kpi for family in FAMILIES for kpi in family.KPIS]
