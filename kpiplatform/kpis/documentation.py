"""The users' reference of the built-in KPIs, rendered as Markdown (docs/kpis.md)."""

from __future__ import annotations

from importlib.metadata import entry_points

from kpiplatform.data.models import DATASETS
from kpiplatform.sdk import KPI, Unit

BUILT_IN_DISTRIBUTION = "kpiplatform-kpis"

UNIT_WORDS = {
    Unit.CURRENCY: "amount in the reporting currency",
    Unit.PERCENT: "percentage",
    Unit.RATIO: "ratio",
    Unit.COUNT: "count",
    Unit.MONTHS: "months",
    Unit.SCORE: "score",
}

INTRODUCTION = """\
# KPI reference

Every KPI of the built-in library, with the definition the numbers follow exactly. The same
text is shown by the API catalogue (`GET /api/v1/kpis/`). Generated from the definitions in
`plugins/kpiplatform-kpis` by `manage.py document_kpis`; do not edit by hand.

Common rules:

- A period is `[start, end)` at midnight in the company's time zone (a setting); grains are
  day, ISO week (Monday), month, quarter and year.
- Money is converted to the company's reporting currency at the rate in force on the day of the
  transaction (for MRR: on the first day of the MRR segment, so exchange-rate moves never create
  MRR movements). Records with no known rate are left out. Taxes are always excluded.
- A zero denominator gives no value (shown as "—" with the reason), never 0 or infinity.
- Every stored value keeps its numerator and denominator, so several periods or segments can be
  combined correctly.
- Breakdowns (by country, channel, plan, campaign) are computed for weeks, months, quarters and
  years; daily values are company totals. A segment has values from the first period it has
  data in (a plan launched in March has no February value, rather than 0), and a customer's
  records count under its current country, channel and campaign, for all its history.
"""


def built_in_kpis() -> list[KPI]:
    """The KPIs of the built-in library, in its order (independent of any company's settings)."""
    for entry in entry_points(group="kpiplatform"):
        if entry.dist is not None and entry.dist.name == BUILT_IN_DISTRIBUTION:
            return list(entry.load().register_kpis())
    return []


def kpi_reference() -> str:
    lines = [INTRODUCTION]
    for kpi in built_in_kpis():
        direction = "higher is better" if kpi.direction == "higher" else "lower is better"
        lines.append(f"## {kpi.name} (`{kpi.key}`)\n")
        lines.append(f"{kpi.description}\n")
        lines.append(f"- Unit: {UNIT_WORDS[kpi.unit]}; {direction}.")
        # Derived facts (first paid days, revenue to date) are named by the datasets they
        # come from, which the KPI lists too.
        datasets = [name for name in kpi.requires if name in DATASETS]
        lines.append(f"- Reads: {', '.join(f'`{name}`' for name in datasets) or '—'}.")
        if kpi.depends_on:
            lines.append(f"- Built from: {', '.join(f'`{key}`' for key in kpi.depends_on)}.")
        if kpi.segments:
            lines.append(f"- Breakdowns: {', '.join(kpi.segments)}.")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
