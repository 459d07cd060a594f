from django.urls import path

from kpiplatform.facts import api

urlpatterns = [
    path("data-warnings/", api.DataWarningList.as_view(), name="api-data-warnings"),
]
