"""Customer satisfaction: CSAT and NPS from survey responses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kpiplatform.sdk import KPI, KPIContext, KPIResult, KPIValue, Period, Unit

from .grouping import grouped_values, in_range_sql


def response_facts(context: KPIContext, kind: str) -> str:
    """One row per survey response of ``kind`` (csat or nps) given in the periods' span."""
    day = context.local_date_sql("r.responded_at")
    return f"""
        SELECT {day} AS day, r.score, r.scale_max
        FROM data_survey_responses r
        WHERE r.deleted_at IS NULL AND r.kind = '{kind}' AND {in_range_sql("r.responded_at")}
    """


@dataclass
class CustomerSatisfaction(KPI):
    """Share of CSAT responses in the top two points of their scale."""

    key: str = "csat"
    name: str = "CSAT"
    description: str = (
        "Customer satisfaction: CSAT responses in the period scoring in the top two points of "
        "their scale (4-5 on 1-5) divided by CSAT responses in the period, as a percentage."
    )
    unit: Unit = Unit.PERCENT
    requires: tuple[str, ...] = ("survey_responses",)

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> list[KPIValue]:
        def result(satisfied, responses) -> KPIResult:
            return KPIResult.ratio(satisfied, responses, "no CSAT responses in this period")

        return grouped_values(
            context,
            periods,
            facts=response_facts(context, "csat"),
            # The top two points of the response's own scale: scale_max and scale_max - 1.
            measures=["COUNT(*) FILTER (WHERE f.score >= f.scale_max - 1)", "COUNT(*)"],
            result=result,
        )


@dataclass
class NetPromoterScore(KPI):
    """Promoters minus detractors, in points from -100 to 100."""

    key: str = "nps"
    name: str = "NPS"
    description: str = (
        "Net Promoter Score: the percentage of promoters (9-10) minus the percentage of "
        "detractors (0-6) among NPS responses in the period, from -100 to 100."
    )
    unit: Unit = Unit.SCORE
    requires: tuple[str, ...] = ("survey_responses",)

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> list[KPIValue]:
        def result(net_promoters, responses) -> KPIResult:
            # 100 * (promoters - detractors) / responses: keeping the 100 in the numerator
            # lets stored values be re-aggregated by summing numerators and denominators.
            return KPIResult.ratio(
                100 * (net_promoters or 0), responses, "no NPS responses in this period"
            )

        return grouped_values(
            context,
            periods,
            facts=response_facts(context, "nps"),
            measures=[
                "COUNT(*) FILTER (WHERE f.score >= 9) - COUNT(*) FILTER (WHERE f.score <= 6)",
                "COUNT(*)",
            ],
            result=result,
        )


KPIS = [CustomerSatisfaction(), NetPromoterScore()]
