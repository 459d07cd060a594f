from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "kpiplatform.api"
    label = "api"
    verbose_name = "REST API"
