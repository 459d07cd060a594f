from django.apps import AppConfig


class KpisConfig(AppConfig):
    name = "kpiplatform.kpis"
    label = "kpis"
    verbose_name = "KPIs"
