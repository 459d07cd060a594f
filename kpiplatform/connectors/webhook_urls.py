from django.urls import path

from kpiplatform.connectors import webhooks

urlpatterns = [path("<str:token>/", webhooks.receive, name="connection-webhook")]
