from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "kpiplatform.tenants"
    label = "tenants"
    verbose_name = "Companies"

    def ready(self) -> None:
        # Bind every @tenant_task / @platform_task to the app in every process.
        import kpiplatform.celery  # noqa: F401
