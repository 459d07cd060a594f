"""Data API URLs, included under ``/api/v1/data/``."""

from django.urls import path

from kpiplatform.data import api

urlpatterns = [
    path("<str:dataset>/", api.DatasetView.as_view(), name="data-dataset"),
    path("<str:dataset>/<path:external_id>/", api.RecordView.as_view(), name="data-record"),
]
