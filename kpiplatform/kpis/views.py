"""Pages of the KPI app."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render

from kpiplatform.accounts.decorators import role_required
from kpiplatform.accounts.models import Role
from kpiplatform.kpis.forms import CompanySettingsForm
from kpiplatform.kpis.models import CompanySettings
from kpiplatform.kpis.settings_api import save_settings


@role_required(Role.ADMIN)
def company_settings(request):
    """Admins set the reporting currency, time zone and gross margin; saving recomputes."""
    settings = CompanySettings.current()
    before = {name: getattr(settings, name) for name in CompanySettingsForm.Meta.fields}
    form = CompanySettingsForm(request.POST or None, instance=settings)
    if request.method == "POST" and form.is_valid():
        changed = {name for name, value in before.items() if form.cleaned_data[name] != value}
        save_settings(form.save(commit=False), changed)
        if changed:
            messages.success(request, "Settings saved. Your KPIs are being recomputed.")
        else:
            messages.info(request, "Nothing changed.")
        return redirect("company-settings")
    return render(request, "kpis/settings.html", {"form": form})
