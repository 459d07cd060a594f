"""The plugins page: what is installed, its state, and this company's on/off switches."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from kpiplatform.accounts.decorators import role_required
from kpiplatform.accounts.models import Role
from kpiplatform.plugins import registry


@role_required(Role.ADMIN)
def plugin_list(request: HttpRequest) -> HttpResponse:
    return render(request, "plugins/plugin_list.html", {"plugins": registry.all_plugins()})


@require_POST
@role_required(Role.ADMIN)
def plugin_switch(request: HttpRequest, name: str) -> HttpResponse:
    enabled = request.POST.get("enabled") == "1"
    try:
        registry.set_enabled(name, enabled, request.user)
    except registry.UnknownPlugin as exc:
        raise Http404(str(exc)) from exc
    except registry.EssentialPlugin as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{name} is now {'enabled' if enabled else 'disabled'}.")
    return redirect("plugins")
