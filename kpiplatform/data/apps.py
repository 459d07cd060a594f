from django.apps import AppConfig


class DataConfig(AppConfig):
    name = "kpiplatform.data"
    label = "data"
    verbose_name = "Canonical data"
