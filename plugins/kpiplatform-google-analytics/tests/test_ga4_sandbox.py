"""The sandbox speaks the Data API as the official client expects it (paging, strings, error
bodies that become the right exceptions), starts from its command, and its generator makes
traffic consistent with HubSpot's leads, the same for the same seed number."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal

import pytest
from ga4_testing import K1, PROPERTY, seed
from google.analytics.data_v1beta import BetaAnalyticsDataClient
from google.analytics.data_v1beta.types import DateRange, Dimension, Metric, RunReportRequest
from google.api_core import exceptions
from kpiplatform_google_analytics import client as ga
from kpiplatform_google_analytics.sandbox import new_service_account
from kpiplatform_google_analytics.sandbox.generate import generate
from kpiplatform_google_analytics.sandbox.report import Property

from kpiplatform.sdk import CredentialsRejected


def sdk_client(key_file: str) -> BetaAnalyticsDataClient:
    return ga.make_client({"service_account_json": key_file})


def request(dimensions, metrics, limit=0, offset=0, start="2000-01-01", end="today"):
    return RunReportRequest(
        property=f"properties/{PROPERTY}",
        dimensions=[Dimension(name=d) for d in dimensions],
        metrics=[Metric(name=m) for m in metrics],
        date_ranges=[DateRange(start_date=start, end_date=end)],
        limit=limit,
        offset=offset,
    )


def test_reports_page_with_limit_and_offset_and_give_values_as_strings(sandbox, key_file):
    client = sdk_client(key_file)
    dims = ["date", "sessionDefaultChannelGroup", "sessionCampaignName"]
    pages = [client.run_report(request(dims, ["sessions"], 3, offset)) for offset in (0, 3, 6)]
    assert [p.row_count for p in pages] == [8, 8, 8]
    assert [len(p.rows) for p in pages] == [3, 3, 2]
    first = pages[0].rows[0]
    assert [v.value for v in first.dimension_values] == [
        K1.strftime("%Y%m%d"),
        "Organic Search",
        "(organic)",
    ]
    assert first.metric_values[0].value == "1000"
    assert pages[0].metadata.currency_code == "USD"
    # Fewer dimensions: rows summed, the rate weighted by sessions.
    (by_day,) = client.run_report(
        request(["date"], ["sessions", "sessionKeyEventRate", "advertiserAdCost"], end=str(K1))
    ).rows
    assert [v.value for v in by_day.metric_values] == ["1200", repr(50 / 1200), "123.45"]


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (429, exceptions.TooManyRequests),
        (500, exceptions.InternalServerError),
        (503, exceptions.ServiceUnavailable),
    ],
)
def test_faults_are_error_bodies_the_client_turns_into_its_exceptions(
    sandbox, key_file, status, exception
):
    sandbox.fail_next(status, retry_after="7")
    with pytest.raises(exception) as raised:
        sdk_client(key_file).run_report(request(["date"], ["sessions"]))
    assert raised.value.response.headers["Retry-After"] == "7"
    assert sdk_client(key_file).run_report(request(["date"], ["sessions"])).row_count == 7  # days


def test_a_key_the_sandbox_does_not_know_is_refused(sandbox, service_account):
    impostor, _ = new_service_account(service_account[0]["client_email"])  # same name, new key
    with pytest.raises(CredentialsRejected, match=r"refused the service account \(401"):
        ga.run_report(sdk_client(json.dumps(impostor)), request(["date"], ["sessions"]))


def test_the_command_serves_a_seed_file_and_says_where(tmp_path, key_file, monkeypatch):
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed()))
    command = [sys.executable, "-m", "kpiplatform_google_analytics.sandbox", "--port", "0"]
    process = subprocess.Popen([*command, "--seed", str(path)], stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        monkeypatch.setenv("KPI_GA4_API_BASE", line.split()[-1])
        # No account registered in the seed file: the sandbox takes any service account.
        assert sdk_client(key_file).run_report(request(["date"], ["sessions"])).row_count == 7
    finally:
        process.terminate()
        process.wait(timeout=10)


def hubspot_contacts(end: dt.date) -> dict:
    """HubSpot contacts: 3 paid-search leads of 'winter-sale' and 1 organic lead on the last
    day, 2 e-mail leads the day before, and one offline lead (no website visit)."""

    def contact(n, day, source, campaign=None):
        props = {"createdate": f"{day}T10:0{n}:00.000Z", "hs_analytics_source": source}
        if campaign:
            props["hs_analytics_source_data_1"] = campaign
        return {"id": str(n), "properties": props}

    before = end - dt.timedelta(days=1)
    return {
        "contacts": [
            contact(1, end, "PAID_SEARCH", "winter-sale"),
            contact(2, end, "PAID_SEARCH", "winter-sale"),
            contact(3, end, "PAID_SEARCH", "winter-sale"),
            contact(4, end, "ORGANIC_SEARCH"),
            contact(5, before, "EMAIL_MARKETING", "newsletter"),
            contact(6, before, "EMAIL_MARKETING", "newsletter"),
            contact(7, end, "OFFLINE"),
        ]
    }


def test_the_generator_makes_two_years_consistent_with_the_leads_and_repeatable():
    end = dt.date(2026, 6, 30)
    hubspot = hubspot_contacts(end)
    made = generate(7, end, hubspot)
    assert generate(7, end, hubspot) == made
    assert generate(8, end, hubspot) != made
    (prop_seed,) = made["properties"].values()
    prop = Property.from_seed(prop_seed)
    days = {day for day, _, _ in prop.rows}
    assert min(days) == end - dt.timedelta(days=729) and max(days) == end and len(days) == 730
    paid = prop.rows[(end, "Paid Search", "winter-sale")]
    assert int(paid["sessions"]) >= 3 * 25  # many sessions per lead
    assert round(Decimal(paid["sessionKeyEventRate"]) * int(paid["sessions"])) >= 3
    email = prop.rows[(end - dt.timedelta(days=1), "Email", "newsletter")]
    assert round(Decimal(email["sessionKeyEventRate"]) * int(email["sessions"])) >= 2
    # The same channels as the leads, and ad cost on the paid channels only.
    sessions_by_group = defaultdict(int)
    for (_, group, _), values in prop.rows.items():
        sessions_by_group[group] += int(values["sessions"])
        paid_channel = group in ("Paid Search", "Paid Social")
        assert (Decimal(values["advertiserAdCost"]) > 0) == paid_channel
        assert int(values["engagedSessions"]) <= int(values["sessions"])
    assert set(sessions_by_group) >= {"Paid Search", "Organic Search", "Email"}
    assert "Offline" not in sessions_by_group
