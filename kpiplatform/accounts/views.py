"""Login, logout and the signup hand-over on a company host."""

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect

from kpiplatform.accounts.forms import EmailAuthenticationForm
from kpiplatform.tenants import handover as handover_tickets


class LoginView(auth_views.LoginView):
    form_class = EmailAuthenticationForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


def handover(request):
    """Exchange a one-time signup ticket for a session on this host."""
    user = handover_tickets.redeem(request.GET.get("ticket", ""))
    if user is None or not user.is_active:
        return HttpResponseBadRequest(
            "This sign-in link is invalid, used or expired. Log in with your e-mail and password."
        )
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("home")
