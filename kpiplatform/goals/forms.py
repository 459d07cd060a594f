"""The goal form of the goals page (the same checks as the API)."""

from __future__ import annotations

from django import forms

from kpiplatform.goals.models import Goal
from kpiplatform.goals.validation import period_start_error, target_errors
from kpiplatform.kpis.registry import registered_kpis
from kpiplatform.sdk import Grain


class GoalForm(forms.ModelForm):
    kpi_key = forms.ChoiceField(label="KPI")
    grain = forms.ChoiceField(
        label="Period", choices=[(g.value, g.value.capitalize()) for g in Grain], initial="month"
    )

    class Meta:
        model = Goal
        fields = ["kpi_key", "grain", "period_start", "segment_kind", "segment_value", "target"]
        labels = {
            "period_start": "First day of the period (empty: every period)",
            "segment_kind": "Segment kind (optional)",
            "segment_value": "Segment (optional)",
            "target": "Target",
        }
        help_texts = {
            "segment_kind": "e.g. plan or country, where the KPI is broken down by it.",
            "target": "In the KPI's unit as stored: money in the reporting currency, a "
            "percent as a fraction (0.05 for 5 %).",
        }
        widgets = {"period_start": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        kpis = registered_kpis()
        self.fields["kpi_key"].choices = sorted(
            ((key, kpi.name) for key, kpi in kpis.items()), key=lambda c: c[1].lower()
        )

    def clean(self):
        data = super().clean()
        if not {"kpi_key", "grain"} <= set(data):
            return data
        _, errors = target_errors(
            data["kpi_key"],
            data["grain"],
            data.get("segment_kind", ""),
            data.get("segment_value", ""),
        )
        error = period_start_error(data["grain"], data.get("period_start"))
        if error:
            errors["period_start"] = error
        for field, message in errors.items():
            self.add_error(field, message)
        duplicate = Goal.objects.filter(
            kpi_key=data["kpi_key"],
            grain=data["grain"],
            period_start=data.get("period_start"),
            segment_kind=data.get("segment_kind", ""),
            segment_value=data.get("segment_value", ""),
        )
        if not errors and duplicate.exists():
            self.add_error(None, "This KPI already has a goal for that period and segment.")
        return data
