from django.apps import AppConfig


class PluginsConfig(AppConfig):
    name = "kpiplatform.plugins"
    label = "plugins"
    verbose_name = "Plugins"

    def ready(self) -> None:
        # Validate every installed plugin at start-up, so problems are logged once, early.
        from kpiplatform.plugins.manager import get_manager

        get_manager()
