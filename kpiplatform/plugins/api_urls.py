from django.urls import path

from kpiplatform.plugins import api

urlpatterns = [
    path("", api.PluginList.as_view(), name="api-plugins"),
    path("<str:name>/", api.PluginDetail.as_view(), name="api-plugin"),
]
