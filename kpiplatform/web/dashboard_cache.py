"""The rendered dashboard, cached until anything it shows can have changed.

Stored values change only when a computation stores them, and every computed KPI records
when (``KPIComputation.computed_at``). What else a dashboard shows depends on the settings
(their last change), today (the default and partial periods move with it), the plugins
switched off (which KPIs exist), the goals of the cards, the company's name and the user.
:func:`dashboard_state` reads all of it in one statement, so a request that finds its page
cached costs that statement and a cache read on top of the session and the user.

Two entries per state: the dashboard's body (shared by the company's users of one kind:
admins get more links), which an htmx request of the picker gets alone, and the whole page
of one user, with the CSRF token left as a placeholder and filled in per response (a masked
token of the request's own secret, as Django's template tag gives). The cache's key
function adds the company's schema (settings.CACHES), so no company reads another's page; a
short timeout bounds what a change outside a computation (none is known) could leave stale.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.db import connection

from kpiplatform.kpis.engine import company_today
from kpiplatform.kpis.models import CompanySettings
from kpiplatform.sdk import Grain

TIMEOUT_S = 300
# Stands for the CSRF token in a cached page: never a token's characters (letters, digits).
CSRF_PLACEHOLDER = "{csrf-token-of-the-request}"

STATE_SQL = """
SELECT s.id, s.reporting_currency, s.time_zone, s.gross_margin, s.updated_at,
       (SELECT max(computed_at) FROM kpis_computation),
       (SELECT coalesce(array_agg(plugin ORDER BY plugin), '{}')
          FROM plugins_pluginsetting WHERE NOT enabled),
       (SELECT coalesce(array_agg(
                   concat_ws(' ', kpi_key, period_start, target) ORDER BY kpi_key, period_start, id
               ), '{}')
          FROM goals_goal
         WHERE grain = %s AND segment_kind = '' AND segment_value = '' AND kpi_key = ANY(%s))
  FROM kpis_companysettings s
 WHERE s.id = 1
"""


@dataclass(frozen=True)
class DashboardState:
    settings: CompanySettings
    last_computed: object  # datetime or None: the latest computation of any KPI
    disabled_plugins: tuple[str, ...]
    goals: tuple[str, ...]  # "kpi period-start target" of the cards' company-wide goals

    @property
    def goal_keys(self) -> set[str]:
        return {goal.split(" ", 1)[0] for goal in self.goals}


def dashboard_state(grain: Grain, card_keys: list[str]) -> DashboardState:
    """The settings and everything else the dashboard's cache key is made of, in one read."""
    with connection.cursor() as cursor:
        cursor.execute(STATE_SQL, [grain.value, list(card_keys)])
        row = cursor.fetchone()
    if row is None:  # a company whose settings were never read yet
        CompanySettings.current()
        return dashboard_state(grain, card_keys)
    pk, currency, time_zone, margin, updated_at, last_computed, disabled, goals = row
    settings = CompanySettings(
        id=pk,
        reporting_currency=currency,
        time_zone=time_zone,
        gross_margin=margin,
        updated_at=updated_at,
    )
    settings._state.adding = False  # the stored row, as CompanySettings.current() gives it
    return DashboardState(settings, last_computed, tuple(disabled), tuple(goals))


def body_cache_key(
    request, state: DashboardState, grain: Grain, period_text: str | None, kpi_keys: list[str]
) -> str:
    settings = state.settings
    parts = (
        grain.value,
        period_text or "",
        company_today(settings).isoformat(),
        state.last_computed.isoformat() if state.last_computed else "",
        settings.updated_at.isoformat() if settings.updated_at else "",
        settings.reporting_currency,
        sorted(kpi_keys),
        state.goals,
        request.tenant.name,
        bool(request.user.is_admin),
    )
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()
    return f"dashboard-body:{digest}"


def page_cache_key(request, body_key: str) -> str:
    """The whole page of this user: the header names the user and their role."""
    user = request.user
    parts = (body_key, user.pk, user.email, user.role)
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()
    return f"dashboard-page:{digest}"
