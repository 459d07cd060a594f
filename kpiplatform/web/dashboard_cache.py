"""The rendered dashboard body, cached until anything it shows can have changed.

Stored values change only when a computation stores them, and every computed KPI records
when (``KPIComputation.computed_at``): the key holds the latest of those, the settings'
last change, today (the default and partial periods move with it), the enabled KPIs, the
goals of the cards, the company's name and whether the user is an admin (admins get more
links). A request that finds the body reads those in two small queries instead of the
stored values, and renders no more than the page around it. The cache's key function adds
the company's schema (settings.CACHES), so no company reads another's body; a short timeout
bounds what a change outside a computation (none is known) could leave stale.
"""

from __future__ import annotations

import hashlib

from django.db.models import Max

from kpiplatform.kpis.engine import company_today
from kpiplatform.kpis.models import CompanySettings, KPIComputation
from kpiplatform.sdk import Grain

TIMEOUT_S = 300


def body_cache_key(
    request,
    settings: CompanySettings,
    grain: Grain,
    period_text: str | None,
    kpi_keys: list[str],
    goals: list[tuple],
) -> str:
    last_computed = KPIComputation.objects.aggregate(last=Max("computed_at"))["last"]
    parts = (
        grain.value,
        period_text or "",
        company_today(settings).isoformat(),
        last_computed.isoformat() if last_computed else "",
        settings.updated_at.isoformat() if settings.updated_at else "",
        sorted(kpi_keys),
        goals,
        request.tenant.name,
        bool(request.user.is_admin),
    )
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()
    return f"dashboard-body:{digest}"
