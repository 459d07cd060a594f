"""Company-host URLs of bench/web.py: the project's, plus the bare baseline view."""

from django.http import HttpResponse
from django.urls import include, path


def bare(request):
    """Nothing but a response, through the same middleware as every page."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("bench/bare/", bare),
    path("", include("kpiplatform.urls")),
]

handler403 = "kpiplatform.tenants.error_pages.permission_denied"
handler404 = "kpiplatform.tenants.error_pages.page_not_found"
