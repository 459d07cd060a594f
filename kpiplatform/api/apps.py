from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "kpiplatform.api"
    label = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        # Registers the OpenAPI extensions (drf-spectacular finds them by subclassing).
        from kpiplatform.api import schema  # noqa: F401
