"""Pages of a company host."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from kpiplatform.kpis.models import CompanySettings
from kpiplatform.kpis.summary import period_summary
from kpiplatform.sdk import Grain

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
