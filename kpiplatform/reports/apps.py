from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "kpiplatform.reports"
    label = "reports"
    verbose_name = "Scheduled reports"
