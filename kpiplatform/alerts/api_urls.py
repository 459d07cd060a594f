from django.urls import path

from kpiplatform.alerts import api

urlpatterns = [
    path("channel-types/", api.ChannelTypeList.as_view(), name="api-alert-channel-types"),
    path("channels/", api.ChannelList.as_view(), name="api-alert-channels"),
    path("channels/<int:pk>/", api.ChannelDetail.as_view(), name="api-alert-channel"),
    path("rules/", api.RuleList.as_view(), name="api-alert-rules"),
    path("rules/<int:pk>/", api.RuleDetail.as_view(), name="api-alert-rule"),
    path("events/", api.EventList.as_view(), name="api-alert-events"),
    path("events/<int:pk>/", api.EventDetail.as_view(), name="api-alert-event"),
]
