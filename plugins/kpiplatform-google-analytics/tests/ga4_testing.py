"""The hand-written GA4 property of the tests, and helpers to connect ``acme`` to it and sync
through the platform's own sync, as the worker runs it (a module of its own name, so that the
tests import it whatever other conftest modules are collected)."""

from __future__ import annotations

import datetime as dt

from kpiplatform_google_analytics.sandbox.report import Property

from kpiplatform.connectors import sync
from kpiplatform.connectors.models import Connection

PROPERTY = "271828"
TODAY = dt.datetime.now(dt.UTC).date()
FIRST_DAY = TODAY - dt.timedelta(days=210)  # windows: [t-210, t-119], [t-118, t-27], [t-26, t]


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


# Two whole months, both inside the first 92-day window (see FIRST_DAY).
M1 = _month_start(TODAY - dt.timedelta(days=180))
M2 = _month_start(M1 + dt.timedelta(days=32))
K1, K2, K3 = M1 + dt.timedelta(days=4), M1 + dt.timedelta(days=19), M2 + dt.timedelta(days=9)
RECENT = [TODAY - dt.timedelta(days=n) for n in (10, 3, 2, 1)]


def row(sessions, engaged, users, key_events, with_key_event, revenue="0", cost="0") -> dict:
    return {
        "sessions": sessions,
        "engagedSessions": engaged,
        "totalUsers": users,
        "keyEvents": key_events,
        "sessionKeyEventRate": repr(with_key_event / sessions),
        "purchaseRevenue": revenue,
        "advertiserAdCost": cost,
    }


# (day, channel group, campaign) -> metrics; sessions with a key event given as a count.
ROWS = {
    (K1, "Organic Search", "(organic)"): row(1000, 620, 800, 45, 40, revenue="98.00"),
    (K1, "Paid Search", "brand-search"): row(200, 150, 180, 12, 10, cost="123.45"),
    (K2, "Paid Social", "linkedin-q4"): row(300, 90, 260, 7, 6, cost="250.10"),
    (K3, "Organic Search", "(organic)"): row(500, 300, 420, 20, 15),
    (RECENT[0], "Direct", "(direct)"): row(400, 240, 330, 16, 12, revenue="49.00"),
    (RECENT[1], "Organic Search", "(organic)"): row(500, 300, 420, 20, 15),
    (RECENT[2], "Paid Search", "brand-search"): row(100, 60, 90, 5, 3, cost="80.00"),
    (RECENT[3], "Email", "newsletter"): row(50, 30, 45, 4, 4),
}


def seed() -> dict:
    prop = Property(currency="USD", time_zone="Etc/UTC")
    for (day, group, campaign), metrics in ROWS.items():
        prop.set_row(day, group, campaign, **metrics)
    return {"properties": {PROPERTY: prop.to_seed()}}


def create(company, key_file: str, role: str = "admin", **config):
    body = {
        "connector": "google_analytics",
        "name": "Website",
        "config": {"property_id": PROPERTY, "first_day": FIRST_DAY.isoformat(), **config},
        "secrets": {"service_account_json": key_file},
        "schedule_minutes": 60,
    }
    return company.client(role).post("/api/v1/connections/", body, content_type="application/json")


def run_sync(company, connection_id: int) -> str:
    """Queue a run and do what the worker's task does with the connection's id."""
    with company.activate():
        sync.start(Connection.objects.get(pk=connection_id))
        return sync.run(connection_id)
