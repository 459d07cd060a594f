"""Pages of the public host: landing and signup."""

from __future__ import annotations

import math

from django.conf import settings
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from kpiplatform.accounts import handover
from kpiplatform.tenants import provisioning
from kpiplatform.tenants.forms import SignupForm
from kpiplatform.tenants.throttling import signup_wait_seconds


def landing(request):
    return render(request, "tenants/landing.html")


@require_http_methods(["GET", "POST"])
def signup(request):
    form = SignupForm(request.POST or None)
    form.fields["slug"].help_text = form.fields["slug"].help_text.format(
        base=settings.KPI_BASE_DOMAIN
    )
    if request.method == "POST" and (wait := signup_wait_seconds(request)) is not None:
        return _too_many_signups(request, form, wait)
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


def _too_many_signups(request, form: SignupForm, wait_seconds: int):
    """429 with the form as typed and one error saying when to come back; nothing is tried."""
    form.full_clean()
    form.errors.clear()  # the only thing wrong here is the rate
    minutes = math.ceil(wait_seconds / 60)
    form.add_error(
        None,
        f"Too many signups from your address. Try again in {minutes} "
        f"minute{'s' if minutes != 1 else ''}.",
    )
    return render(request, "tenants/signup.html", {"form": form}, status=429)
