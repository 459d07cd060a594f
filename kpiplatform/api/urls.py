from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from kpiplatform.api import kpi_goals, views

urlpatterns = [
    path("me/", views.MeView.as_view(), name="api-me"),
    path("plugins/", include("kpiplatform.plugins.api_urls")),
    path("data/", include("kpiplatform.data.urls")),
    path("", include("kpiplatform.connectors.urls")),
    # Goals and alerts. The KPI summary and series answer with goals (kpi_goals.py): these two
    # come before kpis.api_urls, which has the same paths (and the URL names).
    path("kpis/summary/", kpi_goals.KPISummaryWithGoalsView.as_view()),
    path("kpis/<str:key>/series/", kpi_goals.KPISeriesWithGoalsView.as_view()),
    path("", include("kpiplatform.goals.api_urls")),
    path("alerts/", include("kpiplatform.alerts.api_urls")),
    path("", include("kpiplatform.kpis.api_urls")),
    path("", include("kpiplatform.facts.api_urls")),
    path("", include("kpiplatform.reports.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", views.ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("kpiplatform.accounts.api_urls")),
]
