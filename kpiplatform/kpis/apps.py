from django.apps import AppConfig


class KpisConfig(AppConfig):
    name = "kpiplatform.kpis"
    label = "kpis"
    verbose_name = "KPIs"

    def ready(self) -> None:
        # Connects the data_changed receiver that schedules recomputes.
        from kpiplatform.kpis import recompute  # noqa: F401
