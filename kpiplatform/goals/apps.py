from django.apps import AppConfig


class GoalsConfig(AppConfig):
    name = "kpiplatform.goals"
    label = "goals"
    verbose_name = "Goals"
