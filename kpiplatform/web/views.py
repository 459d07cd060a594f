"""Pages of a company host."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from kpiplatform.kpis.documentation import UNIT_WORDS
from kpiplatform.kpis.models import CompanySettings
from kpiplatform.kpis.registry import registered_kpis_by_plugin
from kpiplatform.kpis.summary import period_summary
from kpiplatform.sdk import Grain, Unit
from kpiplatform.web.drill_pages import drill_url, has_drill
from kpiplatform.web.kpi_page import chart_spec, kpi_page

HEADLINE_KPIS = (
    "mrr",
    "net_new_mrr",
    "active_customers",
    "customer_churn_rate",
    "nrr",
    "arpa",
    "revenue",
    "cac",
)


@login_required
def home(request):
    """This month's headline KPIs as stored, each with its definition; an empty state until a
    company has data."""
    summary = period_summary(Grain.MONTH)
    by_key = {row.kpi.key: row for row in summary.rows}
    headline = [by_key[key] for key in HEADLINE_KPIS if key in by_key]
    others = [row for row in summary.rows if row.kpi.key not in HEADLINE_KPIS]
    context = {
        "summary": summary,
        "headline": headline,
        "others": others,
        "currency": CompanySettings.current().reporting_currency,
    }
    return render(request, "web/home.html", context)


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
    context = {
        "kpi": kpi,
        "plugin": plugin,
        "page": page,
        "spec": chart_spec(page, drill),
        "drill": drill,
        "grains": [g.value for g in Grain],
        "grain_error": error,
        "unit_words": UNIT_WORDS.get(Unit(kpi.unit), str(kpi.unit)),
        "currency": CompanySettings.current().reporting_currency,
    }
    return render(request, "web/kpi.html", context, status=400 if error else 200)
