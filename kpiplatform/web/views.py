"""Pages of a company host."""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.middleware.csrf import get_token
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
from kpiplatform.web.dashboard_cache import (
    CSRF_PLACEHOLDER,
    TIMEOUT_S,
    body_cache_key,
    dashboard_state,
    page_cache_key,
)
from kpiplatform.web.drill_pages import drill_url, has_drill
from kpiplatform.web.kpi_page import chart_spec, kpi_page


@login_required
def home(request):
    """The dashboard: the KPIs of the chosen grain and period as cards, the MRR charts, the
    funnel and the channels; an empty state until the company has data. An htmx request
    (the period and grain picker) gets the dashboard's body only. Both are cached until
    anything they show can have changed (kpiplatform/web/dashboard_cache.py)."""
    grain_text = request.GET.get("grain", Grain.MONTH.value)
    error = ""
    try:
        grain = Grain(grain_text)
    except ValueError:
        grain, error = Grain.MONTH, f"Unknown grain {grain_text!r}: use one of the choices."
    state = dashboard_state(grain, list(CARD_KPIS))
    settings = state.settings  # read once per request: everything below is given it
    kpis = registered_kpis(set(state.disabled_plugins))
    # A period of the grain shown before a grain change means nothing in the new grain.
    shown_grain = request.GET.get("shown_grain", grain.value)
    period_text = request.GET.get("period") if shown_grain == grain.value else None
    body_key = None if error else body_cache_key(request, state, grain, period_text, list(kpis))
    # A page with messages to show is rendered: the cached one would not show (nor use) them.
    page_key = (
        page_cache_key(request, body_key)
        if body_key and not request.htmx and not len(messages.get_messages(request))
        else None
    )
    if page_key and (page := cache.get(page_key)) is not None:
        response = HttpResponse(page.replace(CSRF_PLACEHOLDER, get_token(request)))
        patch_vary_headers(response, ["HX-Request"])
        return response
    context = {"dashboard_body": cache.get(body_key) if body_key else None}
    if context["dashboard_body"] is None:
        try:
            dashboard = build_dashboard(kpis, settings, grain, period_text, state.goal_keys)
        except PeriodChoiceError as exc:
            error, body_key, page_key = str(exc), None, None
            dashboard = build_dashboard(kpis, settings, grain, None, state.goal_keys)
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
        if body_key:
            cache.set(body_key, context["dashboard_body"], TIMEOUT_S)
    status = 400 if error else 200
    if request.htmx:
        response = HttpResponse(context["dashboard_body"], status=status)
    elif page_key:
        page = render_to_string(
            "web/home.html", {**context, "csrf_token": CSRF_PLACEHOLDER}, request
        )
        cache.set(page_key, page, TIMEOUT_S)
        response = HttpResponse(page.replace(CSRF_PLACEHOLDER, get_token(request)))
    else:
        response = render(request, "web/home.html", context, status=status)
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
