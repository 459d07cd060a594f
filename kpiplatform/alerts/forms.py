"""Forms of the alerts pages; the checks themselves are in services.py (shared with the API)."""

from __future__ import annotations

from django import forms

from kpiplatform.alerts.models import Channel, Rule
from kpiplatform.kpis.registry import registered_kpis
from kpiplatform.sdk import Grain, NotificationChannel


class RuleForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    kpi_key = forms.ChoiceField(label="KPI")
    grain = forms.ChoiceField(
        label="Period", choices=[(g.value, g.value.capitalize()) for g in Grain], initial="month"
    )
    segment_kind = forms.CharField(
        label="Segment kind (optional)", required=False, help_text="e.g. plan or country."
    )
    segment_value = forms.CharField(label="Segment (optional)", required=False)
    condition = forms.ChoiceField(label="Condition", choices=Rule.Condition.choices)
    threshold = forms.DecimalField(
        label="Value (N)",
        required=False,
        help_text="In the unit the pages show: 5 means 5 % for a percent KPI. Not used by "
        "“is behind its goal”.",
    )
    channels = forms.ModelMultipleChoiceField(
        label="Notify",
        queryset=Channel.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kpi_key"].choices = sorted(
            ((key, kpi.name) for key, kpi in registered_kpis().items()),
            key=lambda choice: choice[1].lower(),
        )


class SnoozeForm(forms.Form):
    until = forms.DateTimeField(
        label="Snooze until",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
    )


def channel_form(kind: str, channel_type: NotificationChannel, data=None) -> forms.Form:
    """A form of the channel type's configuration fields (secret ones as password inputs)."""
    fields: dict[str, forms.Field] = {
        "name": forms.CharField(label="Name", max_length=200),
    }
    for field in channel_type.config_fields:
        widget = forms.PasswordInput if field.kind == "secret" else forms.TextInput
        fields[f"cfg_{field.name}"] = forms.CharField(
            label=field.label, required=field.required, help_text=field.help_text, widget=widget
        )
    form_class = type(f"{kind.title()}ChannelForm", (forms.Form,), fields)
    return form_class(data)
