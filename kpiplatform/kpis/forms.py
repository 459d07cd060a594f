"""The company settings form of the settings page (same rules as the settings API)."""

from __future__ import annotations

import zoneinfo

from django import forms

from kpiplatform.data.codes import ISO_4217_CODES
from kpiplatform.kpis.models import CompanySettings


class CompanySettingsForm(forms.ModelForm):
    class Meta:
        model = CompanySettings
        fields = ["reporting_currency", "time_zone", "gross_margin"]
        labels = {"gross_margin": "Gross margin (0 to 1)"}
        help_texts = {
            "reporting_currency": "ISO 4217 code, e.g. EUR. Every amount is converted to it.",
            "time_zone": "IANA name, e.g. Europe/Paris. Days and periods are cut in it.",
        }

    def clean_reporting_currency(self) -> str:
        code = self.cleaned_data["reporting_currency"].strip().upper()
        if code not in ISO_4217_CODES:
            raise forms.ValidationError("Not an ISO 4217 currency code.")
        return code

    def clean_time_zone(self) -> str:
        name = self.cleaned_data["time_zone"].strip()
        if name not in zoneinfo.available_timezones():
            raise forms.ValidationError("Not an IANA time zone (e.g. Europe/Paris).")
        return name
