"""Pages of a company host."""

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers

from kpiplatform.kpis.documentation import UNIT_WORDS
from kpiplatform.kpis.engine import company_today
from kpiplatform.kpis.models import CompanySettings
from kpiplatform.kpis.registry import registered_kpis, registered_kpis_by_plugin
from kpiplatform.sdk import Grain, Unit
from kpiplatform.web.charts import cohort_spec, dashboard_charts
from kpiplatform.web.cohorts import cached_cohort_retention
from kpiplatform.web.dashboard import CARD_KPIS, PeriodChoiceError, build_dashboard
from kpiplatform.web.dashboard_cache import TIMEOUT_S, body_cache_key
from kpiplatform.web.drill_pages import drill_url, has_drill
from kpiplatform.web.goals import company_goals
from kpiplatform.web.kpi_page import chart_spec, kpi_page


@login_required
def home(request):
    """The dashboard: the KPIs of the chosen grain and period as cards, the MRR charts, the
    funnel and the channels; an empty state until the company has data. An htmx request
    (the period and grain picker) gets the dashboard's body only."""
    settings = CompanySettings.current()  # once per request: everything below is given it
    grain_text = request.GET.get("grain", Grain.MONTH.value)
    error = ""
    try:
        grain = Grain(grain_text)
    except ValueError:
        grain, error = Grain.MONTH, f"Unknown grain {grain_text!r}: use one of the choices."
    kpis = registered_kpis()
    # A period of the grain shown before a grain change means nothing in the new grain.
    shown_grain = request.GET.get("shown_grain", grain.value)
    period_text = request.GET.get("period") if shown_grain == grain.value else None
    goals = company_goals([key for key in CARD_KPIS if key in kpis], grain)
    key = (
        None if error else body_cache_key(request, settings, grain, period_text, list(kpis), goals)
    )
    context = {"dashboard_body": cache.get(key) if key else None}
    if context["dashboard_body"] is None:
        goal_keys = {row[0] for row in goals}
        try:
            dashboard = build_dashboard(kpis, settings, grain, period_text, goal_keys)
        except PeriodChoiceError as exc:
            error, key = str(exc), None
            dashboard = build_dashboard(kpis, settings, grain, None, goal_keys)
        body_context = {
            "dashboard": dashboard,
            "currency": settings.reporting_currency,
            "grains": [g.value for g in Grain],
            "picker_error": error,
            **dashboard_charts(dashboard, settings.reporting_currency),
        }
        context["dashboard"] = dashboard  # for tests that read what was shown
        context["dashboard_body"] = render_to_string(
            "web/dashboard_body.html", body_context, request
        )
        if key:
            cache.set(key, context["dashboard_body"], TIMEOUT_S)
    if request.htmx:
        response = HttpResponse(context["dashboard_body"], status=400 if error else 200)
    else:
        response = render(request, "web/home.html", context, status=400 if error else 200)
    patch_vary_headers(response, ["HX-Request"])  # the body alone, or the whole page
    return response


@login_required
def dashboard_cohorts(request):
    """The cohort retention heatmaps up to a day (loaded by the dashboard after the page: an
    SQL pass over the ledger, cached per company until the next computation)."""
    settings = CompanySettings.current()
    today = company_today(settings)
    try:  # the last day of the dashboard's period: the cohorts up to it
        until = min(dt.date.fromisoformat(request.GET.get("until") or today.isoformat()), today)
    except ValueError:
        return HttpResponseBadRequest("Give the last day as YYYY-MM-DD (until=...).")
    cells = cached_cohort_retention(until)
    context = {
        "cells": cells,
        "customer_spec": cohort_spec(cells, "customer_retention", "Customer retention"),
        "mrr_spec": cohort_spec(cells, "mrr_retention", "MRR retention"),
    }
    return render(request, "web/dashboard_cohorts.html", context)


@login_required
def kpi_detail(request, key: str):
    """One KPI: its stored series at the chosen grain as a chart and a table, its definition,
    why periods have no value, its breakdowns in the last period, and the CSV download."""
    kpis = registered_kpis_by_plugin()
    if key not in kpis:
        raise Http404(f"No KPI with key {key!r}.")
    kpi, plugin = kpis[key]
    grain_text = request.GET.get("grain", Grain.MONTH.value)
    try:
        grain = Grain(grain_text)
    except ValueError:
        grain, error = Grain.MONTH, f"Unknown grain {grain_text!r}: use one of the choices."
    else:
        error = ""
    page = kpi_page(kpi, grain)
    # Each period opens the records behind its number (a table link, a click on the chart).
    drill = drill_url(key, grain=grain.value) + "&period=" if has_drill(key) else ""
    settings = CompanySettings.current()
    context = {
        "kpi": kpi,
        "plugin": plugin,
        "page": page,
        "spec": chart_spec(page, drill),
        "drill": drill,
        "grains": [g.value for g in Grain],
        "grain_error": error,
        "unit_words": UNIT_WORDS.get(Unit(kpi.unit), str(kpi.unit)),
        "currency": settings.reporting_currency,
    }
    return render(request, "web/kpi.html", context, status=400 if error else 200)
