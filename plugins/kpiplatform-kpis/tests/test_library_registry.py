"""The library's KPIs as the plugin hands them to the platform."""

from kpiplatform_kpis import acquisition, revenue, satisfaction, web
from kpiplatform_kpis.plugin import register_kpis

from kpiplatform.sdk import KPI

LIBRARY_KEYS = {
    "revenue", "gross_revenue", "arpu", "orders", "average_order_value",
    "spend", "cac", "ltv_to_cac", "cac_payback_months", "new_leads", "cost_per_lead",
    "lead_conversion_rate", "marketing_roi", "deal_win_rate",
    "sessions", "engagement_rate", "web_conversion_rate",
    "csat", "nps",
}  # fmt: skip


def test_every_library_kpi_is_registered_once_with_its_definition():
    registered = register_kpis()
    keys = [kpi.key for kpi in registered]
    assert len(keys) == len(set(keys))
    assert set(keys) >= LIBRARY_KEYS
    for module in (revenue, acquisition, web, satisfaction):
        for kpi in module.KPIS:
            assert isinstance(kpi, KPI)
            assert kpi.name and kpi.description.endswith(".")
            assert kpi.requires or kpi.depends_on, kpi.key
