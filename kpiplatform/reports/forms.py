"""The report schedule form of the pages (the same rules as the API's serializer)."""

from __future__ import annotations

from django import forms
from django.core.validators import validate_email

from kpiplatform.accounts.models import User
from kpiplatform.kpis.registry import registered_kpis
from kpiplatform.reports.models import Frequency, ReportSchedule


class ReportScheduleForm(forms.ModelForm):
    kpis = forms.MultipleChoiceField(
        label="KPIs to include",
        widget=forms.CheckboxSelectMultiple,
        help_text=f"At most {ReportSchedule.MAX_KPIS}.",
    )
    recipient_users = forms.ModelMultipleChoiceField(
        label="Members who receive it",
        queryset=User.objects.filter(is_active=True).order_by("email"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    recipient_addresses = forms.CharField(
        label="Other e-mail addresses",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="One per line, or separated by commas.",
    )

    class Meta:
        model = ReportSchedule
        fields = ["name", "frequency", "kpis", "recipient_users", "recipient_addresses", "enabled"]
        labels = {"name": "Report name", "enabled": "Send it on schedule"}
        help_texts = {"frequency": "In your company's time zone (Settings)."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["frequency"].choices = Frequency.choices
        self.fields["kpis"].choices = [(k, kpi.name) for k, kpi in registered_kpis().items()]
        if self.instance.pk:
            self.initial["recipient_addresses"] = "\n".join(self.instance.recipient_addresses)

    def clean_kpis(self) -> list[str]:
        keys = self.cleaned_data["kpis"]
        if len(keys) > ReportSchedule.MAX_KPIS:
            raise forms.ValidationError(f"Choose at most {ReportSchedule.MAX_KPIS} KPIs.")
        order = [key for key, _ in self.fields["kpis"].choices]
        return sorted(keys, key=order.index)

    def clean_recipient_addresses(self) -> list[str]:
        text = self.cleaned_data["recipient_addresses"]
        addresses = [part.strip().lower() for part in text.replace(",", "\n").splitlines()]
        addresses = list(dict.fromkeys(a for a in addresses if a))
        bad = []
        for address in addresses:
            try:
                validate_email(address)
            except forms.ValidationError:
                bad.append(address)
        if bad:
            raise forms.ValidationError(f"Not an e-mail address: {', '.join(bad)}.")
        if len(addresses) > ReportSchedule.MAX_ADDRESSES:
            raise forms.ValidationError(f"At most {ReportSchedule.MAX_ADDRESSES} addresses.")
        return addresses

    def clean(self):
        cleaned = super().clean()
        if (
            "recipient_addresses" in cleaned
            and not cleaned.get("recipient_users")
            and not cleaned["recipient_addresses"]
        ):
            self.add_error(None, "Choose at least one recipient: a member or an address.")
        return cleaned
