"""Web (Google Analytics 4): sessions, engagement rate and web conversion rate.

Web traffic is stored as additive daily counts per channel, so every rate is derived from
summed counts and never averaged across days.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kpiplatform.sdk import KPI, KPIContext, KPIResult, KPIValue, Period, Unit

from .grouping import grouped_values, segment_sql

WEB_FACTS = f"""
    SELECT w.day, {segment_sql("w.channel")} AS channel, w.sessions, w.engaged_sessions,
           w.key_event_sessions
    FROM data_web_traffic w
    WHERE w.deleted_at IS NULL AND w.day >= %(first_day)s AND w.day < %(end_day)s
"""
SESSIONS_SQL = "COALESCE(SUM(f.sessions), 0)"
NO_SESSIONS = "no sessions in this period"


@dataclass
class Sessions(KPI):
    """Sessions in the period."""

    key: str = "sessions"
    name: str = "Sessions"
    description: str = "Sessions on the website or app in the period."
    unit: Unit = Unit.COUNT
    requires: tuple[str, ...] = ("web_traffic",)
    segments: tuple[str, ...] = ("channel",)

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> list[KPIValue]:
        return grouped_values(
            context,
            periods,
            facts=WEB_FACTS,
            measures=[SESSIONS_SQL],
            result=KPIResult.amount,
            segments=self.segments,
        )


@dataclass
class EngagementRate(KPI):
    """Engaged sessions among sessions."""

    key: str = "engagement_rate"
    name: str = "Engagement rate"
    description: str = (
        "Engaged sessions divided by sessions in the period. An engaged session (GA4) lasts "
        "longer than 10 seconds, or has a key event, or has 2 or more page or screen views."
    )
    unit: Unit = Unit.PERCENT
    requires: tuple[str, ...] = ("web_traffic",)
    segments: tuple[str, ...] = ("channel",)

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> list[KPIValue]:
        def result(engaged, sessions) -> KPIResult:
            return KPIResult.ratio(engaged, sessions, NO_SESSIONS)

        return grouped_values(
            context,
            periods,
            facts=WEB_FACTS,
            measures=["COALESCE(SUM(f.engaged_sessions), 0)", SESSIONS_SQL],
            result=result,
            segments=self.segments,
        )


@dataclass
class WebConversionRate(KPI):
    """Sessions with a key event among sessions."""

    key: str = "web_conversion_rate"
    name: str = "Web conversion rate"
    description: str = "Sessions with a key event divided by sessions in the period."
    unit: Unit = Unit.PERCENT
    requires: tuple[str, ...] = ("web_traffic",)
    segments: tuple[str, ...] = ("channel",)

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> list[KPIValue]:
        def result(converted, sessions) -> KPIResult:
            return KPIResult.ratio(converted, sessions, NO_SESSIONS)

        return grouped_values(
            context,
            periods,
            facts=WEB_FACTS,
            measures=["COALESCE(SUM(f.key_event_sessions), 0)", SESSIONS_SQL],
            result=result,
            segments=self.segments,
        )


KPIS = [Sessions(), EngagementRate(), WebConversionRate()]
