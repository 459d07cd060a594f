"""The goals and alerts pages: members read, analysts and admins change, every input has a
label, and the KPI page shows each period's goal."""

from __future__ import annotations

import pytest
from test_web_form_labels import assert_accessible, audit_page

from kpiplatform.testing.data import load_records
from kpiplatform.testing.kpis import WORKED_EXAMPLE_SEGMENTS, configure_company, recompute_all

PAGES = ["/goals/", "/alerts/", "/alerts/channels/", "/alerts/history/"]


@pytest.mark.parametrize("role", ["admin", "analyst", "viewer"])
@pytest.mark.parametrize("path", [*PAGES, "/alerts/channels/new/webhook/"])
def test_every_input_has_a_label(acme, role, path):
    client = acme.client(role)
    if client.get(path).status_code == 403:
        assert role == "viewer" and path.endswith("/new/webhook/")
        return
    assert_accessible(audit_page(client, path), f"{path} as {role}")


def test_viewers_read_the_pages_without_forms_and_cannot_post(acme):
    viewer = acme.client("viewer")
    for path in PAGES:
        page = viewer.get(path)
        assert page.status_code == 200
        assert b'<form method="post" novalidate>' not in page.content
    refused = viewer.post("/goals/", {"kpi_key": "mrr", "grain": "month", "target": "1"})
    assert refused.status_code == 403
    assert "This needs the Analyst role." in refused.content.decode()
    assert viewer.post("/alerts/", {"name": "x"}).status_code == 403
    assert viewer.get("/alerts/channels/new/email/").status_code == 403


def test_an_analyst_sets_a_goal_that_the_kpi_page_shows_as_progress(acme):
    with acme.activate():
        configure_company("EUR", "UTC", "1")
        load_records("mrr_segments", WORKED_EXAMPLE_SEGMENTS)
        recompute_all()
    analyst = acme.client("analyst")
    bad = analyst.post(
        "/goals/", {"kpi_key": "mrr", "grain": "month", "period_start": "2025-02-10", "target": "5"}
    )
    assert bad.status_code == 200
    assert "2025-02-10 does not start a month; give the first day." in bad.content.decode()
    saved = analyst.post(
        "/goals/",
        {"kpi_key": "mrr", "grain": "month", "period_start": "2025-02-01", "target": "280"},
    )
    assert saved.status_code == 302
    assert (
        analyst.post("/goals/", {"kpi_key": "mrr", "grain": "month", "target": "400"}).status_code
        == 302
    )
    page = acme.client("viewer").get("/kpis/mrr/?grain=month").content.decode()
    # February 2025: 280 of 280 (met); March: 320 of the standing 400 (80 %, behind).
    february = page.split('data-period="2025-02"')[1].split("</tr>")[0]
    march = page.split('data-period="2025-03"')[1].split("</tr>")[0]
    assert "280" in february and "100 %" in february and "met" in february
    assert "400" in march and "80 %" in march and "behind" in march
    goals_page = acme.client("viewer").get("/goals/").content.decode()
    assert "every month" in goals_page and "month of 2025-02-01" in goals_page


def test_an_analyst_adds_channels_and_a_rule_and_sees_it_fire_in_the_history(acme, settings):
    with acme.activate():
        configure_company("EUR", "UTC", "1")
        load_records("mrr_segments", WORKED_EXAMPLE_SEGMENTS)
        recompute_all()
    analyst = acme.client("analyst")
    refused = analyst.post(
        "/alerts/channels/new/webhook/",
        {"name": "Internal", "cfg_url": "http://10.0.0.7/hook", "cfg_secret": "s"},
    )
    assert refused.status_code == 200
    assert (
        "10.0.0.7, a private address: webhooks may only call public addresses."
        in refused.content.decode()
    )
    added = analyst.post(
        "/alerts/channels/new/email/", {"name": "Ops mail", "cfg_recipients": "ops@acme.test"}
    )
    assert added.status_code == 302
    from kpiplatform.alerts.models import Channel

    with acme.activate():
        channel = Channel.objects.get(name="Ops mail")
    rule = analyst.post(
        "/alerts/",
        {
            "name": "MRR watch",
            "kpi_key": "mrr",
            "grain": "month",
            "condition": "above",
            "threshold": "300",
            "channels": [channel.pk],
        },
    )
    assert rule.status_code == 302
    listing = acme.client("viewer").get("/alerts/").content.decode()
    assert "MRR watch" in listing and "Firing" in listing and "is above 300" in listing
    history = acme.client("viewer").get("/alerts/history/").content.decode()
    assert "MRR watch: MRR is above 300" in history
    assert "Ops mail" in history and "pending" in history
    missing = analyst.post(
        "/alerts/", {"name": "x", "kpi_key": "mrr", "grain": "month", "condition": "below"}
    )
    assert "This condition needs a number." in missing.content.decode()
