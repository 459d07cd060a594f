"""URLs of the public host (``KPI_BASE_DOMAIN``): landing page and signup."""

from django.urls import include, path

from kpiplatform.tenants import views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("signup/", views.signup, name="signup"),
    path("api/v1/", include("kpiplatform.tenants.api_urls")),
]

handler403 = "kpiplatform.tenants.error_pages.permission_denied"
handler404 = "kpiplatform.tenants.error_pages.page_not_found"
