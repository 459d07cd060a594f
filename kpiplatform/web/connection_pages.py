"""The connection pages (admins only, as ``/api/v1/connections/``): the list with each
connection's health, last run and next scheduled sync; adding one from its connector's form;
editing its fields, secrets and schedule; testing it; "sync now" and the run's live progress
(htmx polls a fragment until the run ends); the run history; disconnecting, keeping or
removing what it brought (removing runs in the background: the list and the connection's page
poll its progress until the connection is gone, and a removal stopped on an error shows the
reason and can be retried).

Every action goes through the same functions as the API (``connectors.configuration``,
``connectors.sync``, ``connectors.disconnect``); secrets are never put in a page.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from kpiplatform.accounts.decorators import role_required
from kpiplatform.accounts.models import Role
from kpiplatform.connectors import configuration, sync, webhooks
from kpiplatform.connectors.disconnect import (
    AlreadyDisconnecting,
    SyncRunning,
    disconnect_deleting_data,
    disconnect_keeping_data,
)
from kpiplatform.connectors.models import Connection, Disconnection, SyncRun
from kpiplatform.connectors.secrets import SecretsUnreadable
from kpiplatform.plugins import registry
from kpiplatform.web.connection_forms import ConnectionForm, schedule_words

HISTORY_PAGE_SIZE = 20
POLL_EVERY = "1s"


def _connector_name(key: str) -> str:
    entry = registry.connectors().get(key)
    return entry[1].name if entry else key


def _removal(connection: Connection) -> Disconnection | None:
    return getattr(connection, "disconnection", None)


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'s' if count != 1 else ''}"


def removal_words(removal: Disconnection) -> str:
    """Where a disconnect deleting the records stands, in words."""
    deleted = _plural(sum(removal.deleted.values()), "record")
    datasets = f"{removal.datasets_done} of {removal.datasets_total} datasets removed"
    if removal.status == Disconnection.Status.FAILED:
        return f"Disconnecting stopped: {removal.error} So far {datasets}, {deleted} deleted."
    return f"Disconnecting… {datasets}, {deleted} deleted so far"


def _health_words(connection: Connection, last: SyncRun | None) -> str:
    if (removal := _removal(connection)) is not None:
        return removal_words(removal)
    if connection.health == Connection.Health.NEEDS_CREDENTIALS:
        return f"Needs new credentials: {connection.health_reason}"
    if connection.health == Connection.Health.FAILING:
        return f"Failing: {connection.health_reason}"
    return "Working" if last is not None else "Not synced yet"


def _next_sync_words(connection: Connection, last: SyncRun | None) -> str:
    if _removal(connection) is not None:
        return "None: it is being disconnected"
    if last is not None and last.status in SyncRun.ACTIVE:
        return f"A sync is {last.status} now"
    if connection.schedule_minutes == 0:
        return "Only when asked"
    if connection.health == Connection.Health.NEEDS_CREDENTIALS:
        return "Paused until new credentials are saved"
    due = sync.next_sync_at(connection, last)
    if due is None or due <= timezone.now():
        return "Due now (within a minute)"
    return timezone.localtime(due).strftime("%Y-%m-%d %H:%M %Z")


def _summary(connection: Connection) -> dict:
    last = connection.runs.first()
    return {
        "connection": connection,
        "title": connection.name or _connector_name(connection.connector),
        "connector_name": _connector_name(connection.connector),
        "health_words": _health_words(connection, last),
        "schedule_words": schedule_words(connection.schedule_minutes),
        "next_sync_words": _next_sync_words(connection, last),
        "last_run": last,
        "removal": _removal(connection),
    }


def _list_context() -> dict:
    connections = [_summary(c) for c in Connection.objects.select_related("disconnection")]
    connected = {item["connection"].connector for item in connections}
    addable = [
        {"key": key, "name": connector.name or key}
        for key, (_plugin, connector) in sorted(registry.connectors().items())
        if key not in connected
    ]
    removing = any(
        item["removal"] is not None and item["removal"].status == Disconnection.Status.REMOVING
        for item in connections
    )
    return {
        "connections": connections,
        "addable": addable,
        "polling": removing,
        "poll_every": POLL_EVERY,
    }


@role_required(Role.ADMIN)
def connection_list(request):
    return render(request, "web/connections.html", _list_context())


@role_required(Role.ADMIN)
def connection_list_live(request):
    """The list's body (the fragment htmx polls while a connection is being disconnected):
    a connection whose removal has ended is gone from it, and its connector addable again."""
    return render(request, "web/connections_body.html", _list_context())


@sensitive_post_parameters()
@role_required(Role.ADMIN)
def connection_add(request, connector: str):
    try:
        declared = configuration.fields_of(connector)
    except sync.UnknownConnector as exc:
        raise Http404(str(exc)) from exc
    if Connection.objects.filter(connector=connector).exists():
        messages.error(request, "This company already has a connection to this connector.")
        return redirect("connections")
    form = ConnectionForm(declared, data=request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid() and (checked := form.checked()):
        try:
            created = configuration.create(
                connector,
                checked,
                name=form.cleaned_data["name"],
                schedule_minutes=form.cleaned_data["schedule_minutes"],
            )
        except configuration.AlreadyConnected as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Connection added. Test it, or sync now.")
            return redirect("connection", created.pk)
    context = {"form": form, "connector_name": _connector_name(connector), "connection": None}
    return render(request, "web/connection_form.html", context, status=400 if form.errors else 200)


@sensitive_post_parameters()
@role_required(Role.ADMIN)
def connection_edit(request, pk: int):
    connection = get_object_or_404(Connection, pk=pk)
    try:
        sync.refuse_while_disconnecting(connection, "edited")
        declared = configuration.fields_of(connection.connector)
    except (sync.UnknownConnector, sync.Disconnecting) as exc:
        messages.error(request, str(exc))
        return redirect("connection", pk)
    form = ConnectionForm(
        declared, connection, data=request.POST if request.method == "POST" else None
    )
    if request.method == "POST" and form.is_valid() and (checked := form.checked()):
        configuration.update(
            connection,
            checked,
            name=form.cleaned_data["name"],
            schedule_minutes=form.cleaned_data["schedule_minutes"],
        )
        messages.success(request, "Connection saved.")
        return redirect("connection", pk)
    context = {
        "form": form,
        "connector_name": _connector_name(connection.connector),
        "connection": connection,
    }
    return render(request, "web/connection_form.html", context, status=400 if form.errors else 200)


def _history(connection: Connection, page_number) -> object:
    return Paginator(connection.runs.all(), HISTORY_PAGE_SIZE).get_page(page_number)


@role_required(Role.ADMIN)
def connection_detail(request, pk: int):
    connection = get_object_or_404(Connection.objects.select_related("disconnection"), pk=pk)
    context = {
        **_summary(connection),
        "history": _history(connection, request.GET.get("page")),
        "poll_every": POLL_EVERY,
    }
    context["run"] = run = context["last_run"]
    context["polling"] = run is not None and run.status in SyncRun.ACTIVE
    context["webhook_url"] = _webhook_url(request, connection)
    return render(request, "web/connection.html", context)


def _webhook_url(request, connection: Connection) -> str:
    """The address to paste into the upstream's webhook settings ("" when it has none)."""
    try:
        _plugin, connector = sync.connector_for(connection.connector)
    except sync.UnknownConnector:
        return ""
    if not connector.accepts_webhooks:
        return ""
    return request.build_absolute_uri(webhooks.path_of(webhooks.endpoint_for(connection)))


@role_required(Role.ADMIN)
def connection_progress(request, pk: int):
    """The newest run's progress (the fragment htmx polls). A finished run's fragment polls
    no more, and brings the run history up to date (an out-of-band swap)."""
    connection = get_object_or_404(Connection, pk=pk)
    run = connection.runs.first()
    polling = run is not None and run.status in SyncRun.ACTIVE
    context = {
        **_summary(connection),
        "run": run,
        "poll_every": POLL_EVERY,
        "polling": polling,
        "history": _history(connection, 1),
        "with_history": bool(request.htmx) and run is not None and not polling,
    }
    return render(request, "web/connection_progress.html", context)


@require_POST
@role_required(Role.ADMIN)
def connection_test(request, pk: int):
    connection = get_object_or_404(Connection, pk=pk)
    try:
        sync.refuse_while_disconnecting(connection, "tested")
    except sync.Disconnecting as exc:
        messages.error(request, str(exc))
        return redirect("connection", pk)
    try:
        ok, error = sync.check(connection)
    except (sync.UnknownConnector, SecretsUnreadable) as exc:
        ok, error = False, str(exc)
    if ok:
        messages.success(request, "Test passed: the source accepts the credentials.")
    else:
        messages.error(request, f"Test failed: {error}")
    return redirect("connection", pk)


@require_POST
@role_required(Role.ADMIN)
def connection_sync(request, pk: int):
    connection = get_object_or_404(Connection, pk=pk)
    try:
        run, joined = sync.start(connection)
    except sync.Disconnecting as exc:
        messages.error(request, str(exc))
        return redirect("connection", pk)
    if joined:
        messages.info(
            request,
            f"A sync of this connection is already {run.status} (run {run.pk}): "
            "its progress is below.",
        )
    else:
        messages.success(request, f"Sync queued (run {run.pk}): its progress is below.")
    return redirect("connection", pk)


KEEP_CHOICES = {"keep": True, "delete": False}


@role_required(Role.ADMIN)
def connection_disconnect(request, pk: int):
    connection = get_object_or_404(Connection.objects.select_related("disconnection"), pk=pk)
    context = {**_summary(connection), "error": "", "choice": ""}
    if request.method != "POST":
        if context["removal"] is not None:  # its progress, or its retry, is on its page
            return redirect("connection", pk)
        return render(request, "web/connection_disconnect.html", context)
    choice = request.POST.get("data", "")
    context["choice"] = choice
    if choice not in KEEP_CHOICES:
        context["error"] = "Choose whether to keep or delete the records it brought."
        return render(request, "web/connection_disconnect.html", context, status=400)
    try:
        if KEEP_CHOICES[choice]:
            result = disconnect_keeping_data(connection)
        else:
            disconnect_deleting_data(connection)
    except (SyncRunning, AlreadyDisconnecting) as exc:
        context["error"] = str(exc)
        return render(request, "web/connection_disconnect.html", context, status=409)
    if not KEEP_CHOICES[choice]:
        messages.success(
            request,
            f"Disconnecting {context['title']}: the records it brought are being deleted in "
            "the background, then the connection goes and the KPIs they touched are "
            "recomputed. The progress is below.",
        )
        return redirect("connection", pk)
    messages.success(
        request,
        f"{context['title']} is disconnected. The records it brought stay, under the "
        f"source “{result.source}”.",
    )
    return redirect("connections")


@role_required(Role.ADMIN)
def connection_disconnect_progress(request, pk: int):
    """The removal's progress (the fragment htmx polls on the connection's page). Once the
    connection is gone, the poll takes the browser to the list."""
    connection = Connection.objects.select_related("disconnection").filter(pk=pk).first()
    if connection is None:
        if request.htmx:
            messages.success(
                request,
                "Disconnected: the records it brought are deleted and the KPIs they touched "
                "are being recomputed.",
            )
            return HttpResponseClientRedirect(reverse("connections"))
        raise Http404("No such connection.")
    context = {**_summary(connection), "poll_every": POLL_EVERY, "with_facts": bool(request.htmx)}
    if context["removal"] is None:  # not being disconnected: nothing to follow
        page = reverse("connection", args=[pk])
        return HttpResponseClientRedirect(page) if request.htmx else redirect(page)
    return render(request, "web/connection_removal.html", context)
