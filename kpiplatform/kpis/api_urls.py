from django.urls import path

from kpiplatform.kpis import api, settings_api, warnings_api

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
    path("settings/", settings_api.CompanySettingsView.as_view(), name="api-settings"),
    path("data-warnings/", warnings_api.DataWarningList.as_view(), name="api-data-warnings"),
]
