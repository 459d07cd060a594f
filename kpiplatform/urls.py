"""URLs of a company host (``<slug>.<KPI_BASE_DOMAIN>``)."""

from django.urls import include, path

from kpiplatform.web import data_pages, drill_pages
from kpiplatform.web import views as web_views

urlpatterns = [
    path("", web_views.home, name="home"),
    path("dashboard/cohorts/", web_views.dashboard_cohorts, name="dashboard-cohorts"),
    path("kpis/<str:key>/", web_views.kpi_detail, name="kpi"),
    # Drill-downs and the customer page.
    path("kpis/<str:key>/drill/", drill_pages.kpi_drill, name="kpi-drill"),
    path("customers/<str:source>/<path:external_id>/", drill_pages.customer_page, name="customer"),
    path("data/", data_pages.data_list, name="data"),
    path("data/<str:dataset>/", data_pages.data_browse, name="data-page"),
    path("data/<str:dataset>/template.csv", data_pages.data_template, name="data-page-template"),
    path("data/<str:dataset>/example.csv", data_pages.data_example, name="data-page-example"),
    path("data/<str:dataset>/upload/", data_pages.data_upload, name="data-page-upload"),
    path(
        "data/<str:dataset>/upload/<str:upload_id>/write/",
        data_pages.data_write,
        name="data-page-write",
    ),
    # Connections to data sources (admins).
    path("connections/", include("kpiplatform.web.connection_urls")),
    path("", include("kpiplatform.accounts.urls")),
    path("api/v1/", include("kpiplatform.api.urls")),
    path("plugins/", include("kpiplatform.plugins.urls")),
    path("", include("kpiplatform.kpis.urls")),
    # Upstream webhooks of connections (no session, no CSRF: the token is the address).
    path("webhooks/", include("kpiplatform.connectors.webhook_urls")),
    # Goals and alerts.
    path("", include("kpiplatform.goals.urls")),
    path("", include("kpiplatform.alerts.urls")),
    path("", include("kpiplatform.reports.urls")),
]

handler403 = "kpiplatform.tenants.error_pages.permission_denied"
handler404 = "kpiplatform.tenants.error_pages.page_not_found"
