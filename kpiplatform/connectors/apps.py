from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "kpiplatform.connectors"
    label = "connectors"
    verbose_name = "Connections to data sources"
