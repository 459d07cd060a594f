from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from kpiplatform.api import views

urlpatterns = [
    path("me/", views.MeView.as_view(), name="api-me"),
    path("", include("kpiplatform.kpis.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
