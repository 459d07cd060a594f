"""The GA4 connector against its sandbox through the official client: what a sync stores,
the look-back, retries, refused credentials and malformed reports."""

from __future__ import annotations

import datetime as dt
import time

from ga4_testing import K1, K2, K3, PROPERTY, RECENT, TODAY, create, run_sync

from kpiplatform.connectors import disconnect
from kpiplatform.connectors.models import Connection, SyncRun
from kpiplatform.data.models import Spend, WebTraffic

TRAFFIC_FIELDS = (
    "external_id",
    "day",
    "channel",
    "campaign",
    "sessions",
    "engaged_sessions",
    "key_events",
    "key_event_sessions",
    "users",
    "revenue_minor",
    "ad_cost_minor",
    "currency",
)


def traffic(company) -> dict[str, dict]:
    with company.activate():
        rows = WebTraffic.objects.filter(source="google_analytics", deleted_at=None)
        return {r["external_id"]: r for r in rows.values(*TRAFFIC_FIELDS)}


def spend(company) -> dict[str, tuple]:
    with company.activate():
        rows = Spend.objects.filter(source="google_analytics", deleted_at=None)
        return {
            r.external_id: (r.spent_on, r.channel, r.campaign, r.amount_minor, r.currency)
            for r in rows
        }


def last_run(company) -> SyncRun:
    with company.activate():
        return SyncRun.objects.latest("id")


def test_a_first_sync_stores_every_row_with_its_fields_mapped(acme, sandbox, connected):
    assert run_sync(acme, connected) == "succeeded: 3 pages"
    stored = traffic(acme)
    assert len(stored) == 8
    # Hand-checked day K1: two rows, one per channel group and campaign.
    assert stored[f"{K1}/Organic Search/(organic)"] == {
        "external_id": f"{K1}/Organic Search/(organic)",
        "day": K1,
        "channel": "organic",
        "campaign": "",  # GA4's "(organic)" is no campaign
        "sessions": 1000,
        "engaged_sessions": 620,
        "key_events": 45,
        "key_event_sessions": 40,  # 0.04 x 1000
        "users": 800,
        "revenue_minor": 9800,
        "ad_cost_minor": 0,
        "currency": "USD",
    }
    assert stored[f"{K1}/Paid Search/brand-search"] == {
        "external_id": f"{K1}/Paid Search/brand-search",
        "day": K1,
        "channel": "paid_search",
        "campaign": "brand-search",
        "sessions": 200,
        "engaged_sessions": 150,
        "key_events": 12,
        "key_event_sessions": 10,
        "users": 180,
        "revenue_minor": 0,
        "ad_cost_minor": 0,  # the cost is spend, below, counted once
        "currency": "USD",
    }
    assert stored[f"{RECENT[0]}/Direct/(direct)"]["channel"] == "direct"
    assert stored[f"{RECENT[3]}/Email/newsletter"]["key_event_sessions"] == 4
    assert sum(r["sessions"] for r in stored.values()) == 3050
    assert spend(acme) == {
        f"{K1}/Paid Search/brand-search": (K1, "paid_search", "brand-search", 12345, "USD"),
        f"{K2}/Paid Social/linkedin-q4": (K2, "paid_social", "linkedin-q4", 25010, "USD"),
        f"{RECENT[2]}/Paid Search/brand-search": (
            RECENT[2],
            "paid_search",
            "brand-search",
            8000,
            "USD",
        ),
    }
    run = last_run(acme)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.counts["web_traffic"] == {"read": 8, "written": 8, "deleted": 0}
    assert run.counts["spend"]["written"] == 3
    with acme.activate():
        yesterday = (TODAY - dt.timedelta(days=1)).isoformat()
        assert Connection.objects.get(pk=connected).state == {
            "synced_through": yesterday,
            # The rows of the days the next sync reads again (the look-back), to find the
            # ones GA4 stops reporting.
            "recent": [
                f"{RECENT[1]}/Organic Search/(organic)",
                f"{RECENT[2]}/Paid Search/brand-search",
                f"{RECENT[3]}/Email/newsletter",
            ],
        }


def test_the_look_back_re_reads_recent_days_and_changes_exactly_the_revised_one(
    acme, sandbox, connected
):
    run_sync(acme, connected)
    before = traffic(acme)
    served_before = len(sandbox.served)
    # GA4 revises the day before yesterday; a revision of an older day is not re-read.
    sandbox.set_row(
        PROPERTY, RECENT[2], "Paid Search", "brand-search", sessions=130, advertiserAdCost="95.50"
    )
    sandbox.set_row(PROPERTY, RECENT[0], "Direct", "(direct)", sessions=999)
    assert run_sync(acme, connected) == "succeeded: 1 pages"

    (asked,) = report_ranges_since(sandbox, served_before)
    assert asked == ((TODAY - dt.timedelta(days=3)).isoformat(), TODAY.isoformat())
    after = traffic(acme)
    revised = f"{RECENT[2]}/Paid Search/brand-search"
    assert {k for k in after if after[k] != before[k]} == {revised}
    assert after[revised]["sessions"] == 130
    assert after[f"{RECENT[0]}/Direct/(direct)"]["sessions"] == 400  # outside the look-back
    assert spend(acme)[revised][3] == 9550
    run = last_run(acme)
    assert run.counts["web_traffic"] == {"read": 3, "written": 1, "deleted": 0}
    assert run.counts["spend"]["written"] == 1


def report_ranges_since(sandbox, start: int) -> list[tuple[str, str]]:
    return [
        (s.body["dateRanges"][0]["startDate"], s.body["dateRanges"][0]["endDate"])
        for s in sandbox.served[start:]
        if s.status == 200 and s.body.get("dimensions")
    ]


def test_a_row_gone_upstream_within_the_look_back_is_tombstoned_with_its_spend(
    acme, sandbox, connected
):
    run_sync(acme, connected)
    gone = f"{RECENT[2]}/Paid Search/brand-search"
    sandbox.remove_row(PROPERTY, RECENT[2], "Paid Search", "brand-search")
    run_sync(acme, connected)
    assert gone not in traffic(acme) and gone not in spend(acme)
    assert len(traffic(acme)) == 7 and len(spend(acme)) == 2
    with acme.activate():
        assert WebTraffic.objects.get(external_id=gone).deleted_at is not None
    run = last_run(acme)
    assert run.counts["web_traffic"]["deleted"] == 1
    assert run.counts["spend"]["deleted"] == 1


def test_a_day_added_upstream_arrives_with_the_next_sync(acme, sandbox, connected):
    run_sync(acme, connected)
    sandbox.add_day(
        PROPERTY,
        TODAY,
        {("Referral", "(referral)"): {"sessions": 70, "engagedSessions": 35, "keyEvents": 1}},
    )
    run_sync(acme, connected)
    added = traffic(acme)[f"{TODAY}/Referral/(referral)"]
    assert (added["channel"], added["sessions"], added["engaged_sessions"]) == ("referral", 70, 35)


def test_quota_and_server_errors_are_retried_honouring_retry_after(acme, sandbox, connected):
    sandbox.fail_next(429, times=1, retry_after="1")
    sandbox.fail_next(503, times=1)  # no Retry-After: the second wait is the backoff, 2 s
    started = time.monotonic()
    assert run_sync(acme, connected) == "succeeded: 3 pages"
    assert time.monotonic() - started >= 3
    assert [s.status for s in sandbox.served[:3]] == [429, 503, 200]
    assert len(traffic(acme)) == 8


def test_a_quota_exhausted_for_good_fails_the_run_in_words(acme, sandbox, connected):
    sandbox.fail_next(429, times=5, retry_after="0")
    assert run_sync(acme, connected).startswith("failed")
    run = last_run(acme)
    assert "Google Analytics quota exhausted (429 RESOURCE_EXHAUSTED)" in run.error
    assert "Exhausted property tokens per hour" in run.error
    answer = acme.client("admin").get(f"/api/v1/connections/{connected}/").json()
    assert answer["health"] == "failing"
    assert traffic(acme) == {}


def test_a_revoked_service_account_needs_new_credentials_with_the_reason(
    acme, sandbox, connected, service_account
):
    sandbox.revoke(service_account[0]["client_email"])
    run_sync(acme, connected)
    client = acme.client("admin")
    url = f"/api/v1/connections/{connected}/"
    answer = client.get(url).json()
    assert answer["health"] == "needs_credentials"
    assert answer["health_reason"].startswith(
        "Google Analytics refused the service account (403: User does not have sufficient "
        "permissions for this property."
    )
    assert "Viewer role" in answer["health_reason"]
    assert answer["last_run"]["status"] == "failed"
    checked = client.post(url + "check/").json()
    assert checked["ok"] is False
    assert checked["health"] == "needs_credentials"
    assert "refused the service account (403" in checked["error"]


def test_check_passes_with_working_credentials_and_says_what_is_wrong_otherwise(
    acme, sandbox, key_file
):
    client = acme.client("admin")
    good = create(acme, key_file).json()
    assert client.post(f"/api/v1/connections/{good['id']}/check/").json() == {
        "ok": True,
        "error": "",
        "health": "ok",
    }
    assert client.delete(f"/api/v1/connections/{good['id']}/?keep_data=false").status_code == 202
    with acme.activate():  # the removal task's body, as the worker runs it
        assert disconnect.remove(good["id"]).said == "done: 0 records deleted"
        assert not Connection.objects.exists()
    bad = create(acme, key_file, property_id="999").json()  # a property it has no access to
    answer = client.post(f"/api/v1/connections/{bad['id']}/check/").json()
    assert answer["ok"] is False and answer["health"] == "needs_credentials"
    client.patch(
        f"/api/v1/connections/{bad['id']}/",
        {"config": {"property_id": "GA-12"}},
        content_type="application/json",
    )
    answer = client.post(f"/api/v1/connections/{bad['id']}/check/").json()
    assert answer["ok"] is False
    assert "digits only" in answer["error"]


def test_a_malformed_report_fails_the_run_and_leaves_the_earlier_pages(acme, sandbox, connected):
    sandbox.malform_report(after=2)  # the third window's report (the recent days) is broken
    assert run_sync(acme, connected).startswith("failed")
    run = last_run(acme)
    assert run.status == SyncRun.Status.FAILED
    assert (
        "Google Analytics sent a report that cannot be read: the row "
        f"{RECENT[0]:%Y%m%d} / Direct / (direct) has sessions '12,5x', not a count" in run.error
    )
    stored = traffic(acme)
    assert sorted(stored) == sorted(
        [
            f"{K1}/Organic Search/(organic)",
            f"{K1}/Paid Search/brand-search",
            f"{K2}/Paid Social/linkedin-q4",
            f"{K3}/Organic Search/(organic)",
        ]
    )
    with acme.activate():
        cursor = Connection.objects.get(pk=connected).state
    assert cursor == {"synced_through": (TODAY - dt.timedelta(days=27)).isoformat(), "recent": []}
    # The upstream recovers: the next sync goes on from the cursor.
    assert run_sync(acme, connected) == "succeeded: 1 pages"
    assert len(traffic(acme)) == 8
