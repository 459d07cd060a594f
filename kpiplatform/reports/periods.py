"""Which period a report covers, in the company's time zone.

A weekly report goes out on Monday for the ISO week that just ended, a monthly one on the
1st for the month that just ended: the last complete period.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.utils import timezone

from kpiplatform.kpis.models import CompanySettings
from kpiplatform.reports.models import Frequency
from kpiplatform.sdk import Grain, Period

GRAINS = {Frequency.WEEKLY: Grain.WEEK, Frequency.MONTHLY: Grain.MONTH}


def company_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(CompanySettings.current().time_zone)


def last_complete_period(frequency: str, now: dt.datetime | None = None) -> Period:
    """The period a report sent at ``now`` covers: the one before the period of today."""
    today = (now or timezone.now()).astimezone(company_zone()).date()
    return Period.containing(GRAINS[Frequency(frequency)], today).previous()


def period_ended_at(period: Period) -> dt.datetime:
    """The moment the period ended: midnight of its end day in the company's time zone."""
    return dt.datetime.combine(period.end, dt.time(), tzinfo=company_zone())
