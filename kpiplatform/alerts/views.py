"""The alerts pages: rules, channels and the history. Members read; analysts and admins
change (the same services as the API)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from kpiplatform.accounts.decorators import role_required
from kpiplatform.accounts.models import Role
from kpiplatform.alerts import conditions, services
from kpiplatform.alerts.forms import RuleForm, SnoozeForm, channel_form
from kpiplatform.alerts.models import Channel, Event, Rule
from kpiplatform.kpis.registry import registered_kpis

NO_RIGHT = "This needs the Analyst role."


def _can_edit(request) -> bool:
    return request.user.has_role(Role.ANALYST)


@role_required(Role.VIEWER)
def rules(request):
    can_edit = _can_edit(request)
    form = RuleForm(request.POST or None) if can_edit else None
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied(NO_RIGHT)
        if form.is_valid():
            values = dict(form.cleaned_data)
            channels = list(values.pop("channels"))
            try:
                rule = services.save_rule(None, values, channels, user=request.user)
            except services.Invalid as invalid:
                for field, message in invalid.errors.items():
                    form.add_error(field if field in form.fields else None, message)
            else:
                state = " Its condition holds already: it fired." if rule.firing else ""
                messages.success(request, f"Rule “{rule.name}” saved.{state}")
                return redirect("alert-rules")
    kpis = registered_kpis()
    rows = [
        (
            rule,
            kpis[rule.kpi_key].name if rule.kpi_key in kpis else rule.kpi_key,
            conditions.describe(rule.condition, rule.threshold, kpis.get(rule.kpi_key)),
        )
        for rule in Rule.objects.prefetch_related("channels")
    ]
    context = {
        "rows": rows,
        "form": form,
        "can_edit": can_edit,
        "snooze_form": SnoozeForm(),
        "has_channels": Channel.objects.exists(),
    }
    return render(request, "alerts/rules.html", context)


@require_POST
@role_required(Role.ANALYST)
def rule_action(request, pk: int, action: str):
    rule = get_object_or_404(Rule, pk=pk)
    if action == "mute":
        rule.muted = not rule.muted
        rule.save(update_fields=["muted"])
        messages.success(request, f"“{rule.name}” {'muted' if rule.muted else 'unmuted'}.")
    elif action == "snooze":
        form = SnoozeForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Give a date and time to snooze until.")
        else:
            rule.snoozed_until = form.cleaned_data["until"]
            rule.save(update_fields=["snoozed_until"])
            messages.success(request, f"“{rule.name}” snoozed.")
    elif action == "unsnooze":
        rule.snoozed_until = None
        rule.save(update_fields=["snoozed_until"])
        messages.success(request, f"“{rule.name}” is no longer snoozed.")
    elif action == "delete":
        rule.delete()
        messages.success(request, f"Rule “{rule.name}” deleted.")
    else:
        raise Http404("No such action.")
    return redirect("alert-rules")


@role_required(Role.VIEWER)
def channels(request):
    types = services.channel_types()
    context = {
        "channels": Channel.objects.all(),
        "types": [(key, channel.name) for key, (_, channel) in types.items()],
        "names": {key: channel.name for key, (_, channel) in types.items()},
        "can_edit": _can_edit(request),
    }
    return render(request, "alerts/channels.html", context)


@role_required(Role.ANALYST)
def channel_new(request, kind: str):
    entry = services.channel_types().get(kind)
    if entry is None:
        raise Http404("No such channel type.")
    channel_type = entry[1]
    form = channel_form(kind, channel_type, request.POST or None)
    if request.method == "POST" and form.is_valid():
        hidden = services.secret_names(kind)
        values = {k[4:]: v for k, v in form.cleaned_data.items() if k.startswith("cfg_")}
        try:
            channel = services.save_channel(
                None,
                form.cleaned_data["name"],
                kind,
                {k: v for k, v in values.items() if k not in hidden and v != ""},
                {k: v for k, v in values.items() if k in hidden},
                user=request.user,
            )
        except services.Invalid as invalid:
            for message in invalid.errors.values():
                form.add_error(None, message)
        else:
            messages.success(request, f"Channel “{channel.name}” added.")
            return redirect("alert-channels")
    context = {"form": form, "type_name": channel_type.name}
    return render(request, "alerts/channel_new.html", context)


@require_POST
@role_required(Role.ANALYST)
def channel_delete(request, pk: int):
    channel = get_object_or_404(Channel, pk=pk)
    channel.delete()
    messages.success(request, f"Channel “{channel.name}” deleted.")
    return redirect("alert-channels")


@role_required(Role.VIEWER)
def history(request):
    events = Event.objects.select_related("rule").prefetch_related("deliveries__log")[:200]
    return render(request, "alerts/history.html", {"events": events})
