from django.urls import path

from kpiplatform.reports import views

urlpatterns = [
    path("reports/", views.report_list, name="reports"),
    path("reports/sent/", views.report_sent, name="reports-sent"),
    path("reports/new/", views.report_new, name="report-new"),
    path("reports/<int:pk>/", views.report_detail, name="report"),
    path("reports/<int:pk>/edit/", views.report_edit, name="report-edit"),
    path("reports/<int:pk>/send/", views.report_send, name="report-send"),
    path("reports/<int:pk>/delete/", views.report_delete, name="report-delete"),
    path("reports/<int:pk>/preview/", views.report_preview, name="report-preview"),
    path(
        "reports/<int:pk>/preview.pdf",
        views.report_preview_file,
        {"kind": "pdf"},
        name="report-preview-pdf",
    ),
    path(
        "reports/<int:pk>/preview.csv",
        views.report_preview_file,
        {"kind": "csv"},
        name="report-preview-csv",
    ),
]
