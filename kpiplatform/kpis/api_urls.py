from django.urls import path

from kpiplatform.kpis import api, drill_api, settings_api

urlpatterns = [
    path("kpis/", api.KPICatalogueView.as_view(), name="api-kpis"),
    path("kpis/summary/", api.KPISummaryView.as_view(), name="api-kpi-summary"),
    path("kpis/<str:key>/series/", api.KPISeriesView.as_view(), name="api-kpi-series"),
    path(
        "kpis/<str:key>/series.csv",
        api.KPISeriesView.as_view(),
        {"format": "csv"},
        name="api-kpi-series-csv",
    ),
    # Drill-downs and the customer page (docs/api.md, "Drill-downs").
    path("kpis/<str:key>/drill/", drill_api.KPIDrillView.as_view(), name="api-kpi-drill"),
    path("kpis/<str:key>/drill.csv", drill_api.KPIDrillCSVView.as_view(), name="api-kpi-drill-csv"),
    path(
        "customers/<str:source>/<path:external_id>/",
        drill_api.CustomerView.as_view(),
        name="api-customer",
    ),
    path("settings/", settings_api.CompanySettingsView.as_view(), name="api-settings"),
]
