"""Pages of scheduled reports: members read, analysts and admins edit and send."""

from __future__ import annotations

import base64

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from kpiplatform.accounts.decorators import role_required
from kpiplatform.accounts.models import Role
from kpiplatform.reports import charts, formats
from kpiplatform.reports.api import period_of
from kpiplatform.reports.content import build_report
from kpiplatform.reports.delivery import send_now
from kpiplatform.reports.forms import ReportScheduleForm
from kpiplatform.reports.models import ReportDelivery, ReportSchedule
from kpiplatform.reports.periods import last_complete_period


@login_required
def report_list(request):
    schedules = ReportSchedule.objects.prefetch_related("recipient_users")
    rows = [
        {
            "schedule": s,
            "next_period": last_complete_period(s.frequency).label,
            "last": s.deliveries.first(),
        }
        for s in schedules
    ]
    can_edit = request.user.has_role(Role.ANALYST)
    return render(request, "reports/list.html", {"rows": rows, "can_edit": can_edit})


@login_required
def report_sent(request):
    """Every report e-mail the company sent or tried to, newest first."""
    deliveries = ReportDelivery.objects.select_related("schedule")[:200]
    return render(request, "reports/sent.html", {"deliveries": deliveries})


@role_required(Role.ANALYST)
def report_new(request):
    form = ReportScheduleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        schedule = form.save(commit=False)
        schedule.created_by = request.user
        schedule.save()
        form.save_m2m()
        messages.success(request, "Report saved.")
        return redirect("report", pk=schedule.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "reports/form.html", {"form": form, "title": "New report"}, status=status
    )


@role_required(Role.ANALYST)
def report_edit(request, pk: int):
    schedule = get_object_or_404(ReportSchedule, pk=pk)
    form = ReportScheduleForm(request.POST or None, instance=schedule)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Report saved.")
        return redirect("report", pk=schedule.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "title": f"Edit {schedule.name}", "schedule": schedule}
    return render(request, "reports/form.html", context, status=status)


@login_required
def report_detail(request, pk: int):
    schedule = get_object_or_404(ReportSchedule, pk=pk)
    context = {
        "schedule": schedule,
        "recipients": schedule.recipients(),
        "next_period": last_complete_period(schedule.frequency),
        "deliveries": schedule.deliveries.all()[:50],
        "can_edit": request.user.has_role(Role.ANALYST),
    }
    return render(request, "reports/detail.html", context)


@require_POST
@role_required(Role.ANALYST)
def report_send(request, pk: int):
    schedule = get_object_or_404(ReportSchedule, pk=pk)
    if not schedule.recipients():
        messages.error(request, "The report has no recipients: add a member or an address.")
        return redirect("report", pk=pk)
    delivery, joined = send_now(schedule, request.user)
    if joined:
        messages.info(request, f"This report is already being sent ({delivery.state}).")
    else:
        messages.success(request, f"Sending the report to {', '.join(schedule.recipients())}.")
    return redirect("report", pk=pk)


@require_POST
@role_required(Role.ANALYST)
def report_delete(request, pk: int):
    schedule = get_object_or_404(ReportSchedule, pk=pk)
    schedule.delete()
    messages.success(request, f"Report “{schedule.name}” deleted.")
    return redirect("reports")


def _report_for(request, pk: int):
    """The report of the period ``?period_start=`` names (the last complete one by default);
    raises the API's ValidationError on a bad day, which the views answer with 400."""
    schedule = get_object_or_404(ReportSchedule, pk=pk)
    return build_report(schedule, period_of(schedule, request.GET.get("period_start")))


def _bad_day(exc: ValidationError) -> HttpResponse:
    message = exc.detail["period_start"][0]
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


@login_required
def report_preview(request, pk: int):
    """The e-mail as recipients get it, its charts inline as data: URIs."""
    try:
        report = _report_for(request, pk)
    except ValidationError as exc:
        return _bad_day(exc)
    sources = [
        "data:image/png;base64," + base64.b64encode(charts.chart_png(row)).decode()
        for row in report.rows
    ]
    return HttpResponse(formats.html(report, sources))


@login_required
def report_preview_file(request, pk: int, kind: str):
    try:
        report = _report_for(request, pk)
    except ValidationError as exc:
        return _bad_day(exc)
    if kind == "pdf":
        body = formats.pdf_bytes(report, [charts.chart_png(row) for row in report.rows])
        content_type = "application/pdf"
    else:
        body, content_type = formats.csv_bytes(report), "text/csv; charset=utf-8"
    response = HttpResponse(body, content_type=content_type)
    filename = f"report-{report.period.label}.{kind}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
