from django.urls import path

from kpiplatform.connectors import api

urlpatterns = [
    path("connectors/", api.ConnectorList.as_view(), name="api-connectors"),
    path("connections/", api.ConnectionList.as_view(), name="api-connections"),
    path("connections/<int:pk>/", api.ConnectionDetail.as_view(), name="api-connection"),
    path("connections/<int:pk>/check/", api.ConnectionCheck.as_view(), name="api-connection-check"),
    path("connections/<int:pk>/sync/", api.ConnectionSync.as_view(), name="api-connection-sync"),
    path("connections/<int:pk>/runs/", api.SyncRunList.as_view(), name="api-connection-runs"),
    path(
        "connections/<int:pk>/webhook/",
        api.ConnectionWebhook.as_view(),
        name="api-connection-webhook",
    ),
    path(
        "connections/<int:connection_pk>/runs/<int:pk>/",
        api.SyncRunDetail.as_view(),
        name="api-connection-run",
    ),
]
