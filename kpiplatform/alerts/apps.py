from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "kpiplatform.alerts"
    label = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        # Connects the receiver that evaluates rules once the KPI engine stored values.
        from kpiplatform.alerts import evaluate  # noqa: F401
