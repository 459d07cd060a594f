from django.urls import path

from kpiplatform.reports import api

urlpatterns = [
    path("report-schedules/", api.ReportScheduleList.as_view(), name="api-report-schedules"),
    path(
        "report-schedules/<int:pk>/", api.ReportScheduleDetail.as_view(), name="api-report-schedule"
    ),
    path("report-schedules/<int:pk>/send/", api.ReportSendNow.as_view(), name="api-report-send"),
    path(
        "report-schedules/<int:pk>/deliveries/",
        api.ReportDeliveryList.as_view(),
        name="api-report-deliveries",
    ),
    path(
        "report-schedules/<int:pk>/content/",
        api.ReportContent.as_view(),
        name="api-report-content",
    ),
]
