from django.apps import AppConfig


class FactsConfig(AppConfig):
    name = "kpiplatform.facts"
    label = "facts"
    verbose_name = "Derived facts"
