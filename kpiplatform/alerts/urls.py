from django.urls import path

from kpiplatform.alerts import views

urlpatterns = [
    path("alerts/", views.rules, name="alert-rules"),
    path("alerts/rules/<int:pk>/<str:action>/", views.rule_action, name="alert-rule-action"),
    path("alerts/channels/", views.channels, name="alert-channels"),
    path("alerts/channels/new/<str:kind>/", views.channel_new, name="alert-channel-new"),
    path("alerts/channels/<int:pk>/delete/", views.channel_delete, name="alert-channel-delete"),
    path("alerts/history/", views.history, name="alert-history"),
]
