from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "kpiplatform.connectors"
    label = "connectors"
    verbose_name = "Connections to data sources"

    def ready(self) -> None:
        from kpiplatform.connectors import sync
        from kpiplatform.kpis.signals import settings_changed

        settings_changed.connect(sync.time_zone_changed, dispatch_uid="connectors-time-zone")
