"""URLs of a company host (``<slug>.<KPI_BASE_DOMAIN>``)."""

from django.urls import include, path

from kpiplatform.web import views as web_views

urlpatterns = [
    path("", web_views.home, name="home"),
    path("kpis/<str:key>/", web_views.kpi_detail, name="kpi"),
    path("", include("kpiplatform.accounts.urls")),
    path("api/v1/", include("kpiplatform.api.urls")),
    path("plugins/", include("kpiplatform.plugins.urls")),
    path("", include("kpiplatform.kpis.urls")),
]

handler403 = "kpiplatform.tenants.error_pages.permission_denied"
handler404 = "kpiplatform.tenants.error_pages.page_not_found"
