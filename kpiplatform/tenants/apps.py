from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "kpiplatform.tenants"
    label = "tenants"
    verbose_name = "Companies"

    def ready(self) -> None:
        from django_tenants.signals import schema_migrated

        # Bind every @tenant_task / @platform_task to the app in every process.
        import kpiplatform.celery  # noqa: F401
        from kpiplatform.tenants import roles

        # Every migration run of a schema ends with its company role brought up to date.
        schema_migrated.connect(roles.on_schema_migrated, dispatch_uid="company-roles")
