from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "kpiplatform.web"
    label = "web"
    verbose_name = "Web pages"
