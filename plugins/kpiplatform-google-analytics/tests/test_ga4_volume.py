"""Larger properties: the generator's two years arrive whole, and a window longer than one
page of the report is paged by offset, read again from its start after a failure inside it."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from django.db.models import Sum
from ga4_testing import PROPERTY, TODAY, create, run_sync
from kpiplatform_google_analytics.plugin import PAGE_ROWS
from kpiplatform_google_analytics.sandbox import Sandbox
from kpiplatform_google_analytics.sandbox.generate import generate
from kpiplatform_google_analytics.sandbox.report import Property

from kpiplatform.connectors.models import Connection, SyncRun
from kpiplatform.data.models import Spend, WebTraffic


def serve(seed: dict, service_account, monkeypatch) -> Sandbox:
    sandbox = Sandbox(seed).start()
    sandbox.register_account(service_account[0]["client_email"], service_account[1])
    monkeypatch.setenv("KPI_GA4_API_BASE", sandbox.url)
    return sandbox


def test_the_generated_two_years_arrive_whole(acme, service_account, monkeypatch):
    made = generate(7, TODAY - dt.timedelta(days=1), property_id=PROPERTY)
    rows = made["properties"][PROPERTY]["rows"]
    names = [h["name"] for h in made["properties"][PROPERTY]["metricHeaders"]]

    def total(metric: str) -> Decimal:
        at = names.index(metric)
        return sum((Decimal(r["metricValues"][at]["value"]) for r in rows), Decimal(0))

    sandbox = serve(made, service_account, monkeypatch)
    try:
        first_day = TODAY - dt.timedelta(days=730)
        created = create(acme, json.dumps(service_account[0]), first_day=first_day.isoformat())
        assert run_sync(acme, created.json()["id"]) == "succeeded: 8 pages"  # 92-day windows
    finally:
        sandbox.stop()
    with acme.activate():
        traffic = WebTraffic.objects.filter(source="google_analytics")
        assert traffic.count() == len(rows) == 730 * 8
        sums = traffic.aggregate(
            sessions=Sum("sessions"), engaged=Sum("engaged_sessions"), events=Sum("key_events")
        )
        assert sums == {
            "sessions": total("sessions"),
            "engaged": total("engagedSessions"),
            "events": total("keyEvents"),
        }
        spend = Spend.objects.filter(source="google_analytics")
        assert spend.count() == 730 * 3  # brand and generic search, LinkedIn
        assert (
            spend.aggregate(total=Sum("amount_minor"))["total"] == total("advertiserAdCost") * 100
        )
        assert set(traffic.values_list("channel", flat=True)) == {
            "organic",
            "direct",
            "paid_search",
            "social",
            "paid_social",
            "referral",
            "email",
        }


def test_a_window_longer_than_a_page_is_paged_and_read_again_after_a_failure_inside_it(
    acme, service_account, monkeypatch
):
    first_day = TODAY - dt.timedelta(days=100)  # windows [t-100, t-9] and [t-8, t]
    prop = Property()
    campaigns = PAGE_ROWS // 92 + 2  # 56 campaigns a day: 5,152 rows in the first window
    for n in range(92):
        for c in range(campaigns):
            prop.set_row(first_day + dt.timedelta(days=n), "Paid Search", f"c{c:02d}", sessions=2)
    sandbox = serve({"properties": {PROPERTY: prop.to_seed()}}, service_account, monkeypatch)
    try:
        connection_id = create(
            acme, json.dumps(service_account[0]), first_day=first_day.isoformat()
        ).json()["id"]
        sandbox.malform_report(after=1)  # the first window's second page
        assert run_sync(acme, connection_id).startswith("failed")
        with acme.activate():
            assert WebTraffic.objects.count() == PAGE_ROWS  # the first page stays...
            assert Connection.objects.get(pk=connection_id).state == {}  # ...the cursor not
        assert run_sync(acme, connection_id) == "succeeded: 3 pages"
        offsets = [s.body.get("offset", "0") for s in sandbox.served if s.body.get("dimensions")]
        assert offsets == ["0", str(PAGE_ROWS), "0", str(PAGE_ROWS), "0"]
    finally:
        sandbox.stop()
    with acme.activate():
        assert WebTraffic.objects.filter(deleted_at=None).count() == 92 * campaigns
        run = SyncRun.objects.latest("id")
        # The first page read again rewrote nothing; the rest was new.
        assert run.counts["web_traffic"] == {
            "read": 92 * campaigns,
            "written": 92 * campaigns - PAGE_ROWS,
            "deleted": 0,
        }
