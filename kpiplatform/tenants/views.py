"""Pages of the public host: landing and signup."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from kpiplatform.accounts import handover
from kpiplatform.tenants import provisioning
from kpiplatform.tenants.forms import SignupForm


def landing(request):
    return render(request, "tenants/landing.html")


@require_http_methods(["GET", "POST"])
def signup(request):
    form = SignupForm(request.POST or None)
    form.fields["slug"].help_text = form.fields["slug"].help_text.format(
        base=settings.KPI_BASE_DOMAIN
    )
    if request.method == "POST" and form.is_valid():
        try:
            company, admin = provisioning.create_company(form.to_request())
        except provisioning.SignupInvalid as exc:
            for field, messages in exc.message_dict.items():
                for message in messages:
                    form.add_error(field, message)
        else:
            return redirect(handover.issue_handover_url(company.schema_name, company.slug, admin))
    return render(
        request, "tenants/signup.html", {"form": form}, status=400 if form.errors else 200
    )
