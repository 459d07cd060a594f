"""The HubSpot connector against its sandbox, through the official SDK and the platform's
sync runs: mapping, incremental changes, the search cap, retries, refused tokens, malformed
pages, and the token kept out of every answer and log line."""

from __future__ import annotations

import datetime as dt
import json
import logging

from hubspot_testing import TOKEN, connect, rows, sync_now
from kpiplatform_hubspot.sandbox.generate import generate

T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)


def day(n: int, hour: int = 9) -> dt.datetime:
    return T0 + dt.timedelta(days=n, hours=hour - 9)


def seed_small(sandbox) -> None:
    """A customer from paid search, a lead from paid social, a subscriber (not a lead), a
    contact set straight to opportunity; a won, a lost and an open deal; an NPS, a CSAT and
    a CES answer (no KPI reads effort)."""
    sandbox.add(
        "contacts",
        {
            "email": " Ada@Initech.example ",
            "lifecyclestage": "customer",
            "hs_lifecyclestage_subscriber_date": day(0),
            "hs_lifecyclestage_lead_date": day(2),
            "hs_lifecyclestage_customer_date": day(20),
            "hs_analytics_source": "PAID_SEARCH",
            "hs_analytics_source_data_1": "brand-search",
            "hs_analytics_source_data_2": "kpi software",
        },
        at=day(0),
        id=101,
    )
    sandbox.add(
        "contacts",
        {
            "email": "bob@example.org",
            "lifecyclestage": "lead",
            "hs_lifecyclestage_lead_date": day(5),
            "hs_analytics_source": "PAID_SOCIAL",
            "hs_analytics_source_data_1": "LinkedIn",
            "hs_analytics_source_data_2": "founders-q1",
        },
        at=day(5),
        id=102,
    )
    sandbox.add(
        "contacts",
        {"email": "sub@example.org", "lifecyclestage": "subscriber"},
        at=day(6),
        id=103,
    )
    sandbox.add(
        "contacts",
        {
            "email": "cy@example.org",
            "lifecyclestage": "opportunity",
            "hs_lifecyclestage_opportunity_date": day(7),
            "hs_analytics_source": "ORGANIC_SEARCH",
            "hs_analytics_source_data_1": "google",
        },
        at=day(7),
        id=104,
    )
    deal = {"pipeline": "default", "deal_currency_code": "EUR"}
    sandbox.add(
        "deals",
        {
            **deal,
            "dealname": "Initech",
            "amount": "1200.50",
            "dealstage": "closedwon",
            "closedate": day(20),
            "hs_is_closed_won": True,
            "hs_is_closed": True,
        },
        at=day(3),
        id=201,
    )
    sandbox.add(
        "deals",
        {
            **deal,
            "dealname": "Bob",
            "amount": "300",
            "dealstage": "closedlost",
            "closedate": day(9),
            "hs_is_closed_won": False,
            "hs_is_closed": True,
        },
        at=day(6),
        id=202,
    )
    sandbox.add(
        "deals",
        {**deal, "dealname": "Cy", "amount": "99.99", "dealstage": "qualifiedtobuy"},
        at=day(8),
        id=203,
    )
    sandbox.add(
        "feedback_submissions", {"hs_survey_type": "NPS", "hs_value": 9}, at=day(30), id=301
    )
    sandbox.add(
        "feedback_submissions", {"hs_survey_type": "CSAT", "hs_value": 4}, at=day(31), id=302
    )
    sandbox.add(
        "feedback_submissions", {"hs_survey_type": "CES", "hs_value": 5}, at=day(32), id=303
    )


def moment(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_a_full_sync_maps_contacts_deals_and_feedback_exactly(acme, sandbox):
    seed_small(sandbox)
    connection = connect(acme)
    run = sync_now(acme, connection)
    assert run["status"] == "succeeded", run["error"]
    assert run["counts"]["leads"]["read"] == 3
    leads = rows(acme, "leads")
    assert sorted(leads) == ["101", "102", "104"]  # the subscriber never was a lead
    ada = leads["101"]
    assert ada["email"] == "Ada@Initech.example"
    assert moment(ada["created_at"]) == day(2)
    assert moment(ada["customer_at"]) == day(20)
    assert (ada["lifecycle_stage"], ada["channel"], ada["campaign"]) == (
        "customer",
        "paid_search",
        "brand-search",
    )
    bob = leads["102"]
    assert (bob["channel"], bob["campaign"], bob["customer_at"]) == (
        "paid_social",
        "founders-q1",
        None,
    )
    cy = leads["104"]  # reached the lead stage by going straight to opportunity
    assert moment(cy["created_at"]) == day(7)
    assert (cy["channel"], cy["campaign"]) == ("organic", "")

    deals = rows(acme, "deals")
    assert {
        k: (d["amount_minor"], d["currency"], d["stage"], d["status"]) for k, d in deals.items()
    } == {
        "201": (120050, "EUR", "closedwon", "won"),
        "202": (30000, "EUR", "closedlost", "lost"),
        "203": (9999, "EUR", "qualifiedtobuy", "open"),
    }
    assert moment(deals["201"]["closed_at"]) == day(20)
    assert moment(deals["202"]["created_at"]) == day(6)
    assert deals["203"]["closed_at"] is None

    surveys = rows(acme, "survey_responses")
    assert {
        k: (s["kind"], s["score"], s["scale_min"], s["scale_max"]) for k, s in surveys.items()
    } == {
        "301": ("nps", 9, 0, 10),
        "302": ("csat", 4, 1, 5),
    }
    assert moment(surveys["301"]["responded_at"]) == day(30)


def test_the_generated_company_is_read_whole(acme, sandbox):
    seed = generate(7)
    for object_type, objects in seed.items():
        for record in objects:
            sandbox.objects[object_type][record["id"]] = record
    run = sync_now(acme, connect(acme))
    assert run["status"] == "succeeded", run["error"]
    # Every generated contact reached the lead stage; one deal per customer or qualified lead.
    assert len(rows(acme, "leads")) == len(seed["contacts"]) == 1200
    assert len(rows(acme, "deals")) == len(seed["deals"])
    assert len(rows(acme, "survey_responses")) == len(seed["feedback_submissions"])
    customers = [c for c in seed["contacts"] if c["properties"]["lifecyclestage"] == "customer"]
    assert sum(1 for r in rows(acme, "leads").values() if r["customer_at"]) == len(customers)
    # Deterministic for a seed number, different for another.
    assert json.dumps(generate(7)) == json.dumps(seed)
    assert json.dumps(generate(8)) != json.dumps(seed)


def test_an_incremental_sync_applies_exactly_the_changes(acme, sandbox):
    seed_small(sandbox)
    connection = connect(acme)
    assert sync_now(acme, connection)["status"] == "succeeded"
    lists_before = sandbox.count("GET", "/crm/v3/objects/contacts")
    searches_before = sandbox.count("POST", "/search")
    assert searches_before == 0  # the first sync reads the lists

    sandbox.add(
        "contacts",
        {
            "email": "dee@example.org",
            "lifecyclestage": "lead",
            "hs_lifecyclestage_lead_date": day(40),
            "hs_analytics_source": "EMAIL_MARKETING",
            "hs_analytics_source_data_1": "newsletter-monthly",
        },
        id=105,
    )
    sandbox.modify(
        "contacts",
        "102",
        {"lifecyclestage": "customer", "hs_lifecyclestage_customer_date": day(41)},
    )
    sandbox.modify(
        "deals",
        "203",
        {
            "dealstage": "closedwon",
            "hs_is_closed_won": True,
            "hs_is_closed": True,
            "closedate": day(42),
        },
    )
    sandbox.archive("deals", "202")
    sandbox.archive("contacts", "104")

    run = sync_now(acme, connection)
    assert run["status"] == "succeeded", run["error"]
    assert sandbox.count("POST", "/search") == searches_before + 3  # one per object type
    # The lists read afterwards are the archived ones only.
    assert sandbox.count("GET", "/crm/v3/objects/contacts") == lists_before + 1
    assert run["counts"]["leads"] == {"read": 2, "written": 2, "deleted": 1}
    assert run["counts"]["deals"] == {"read": 1, "written": 1, "deleted": 1}

    leads = rows(acme, "leads")
    assert sorted(leads) == ["101", "102", "105"]
    assert leads["105"]["campaign"] == "newsletter-monthly"
    assert leads["105"]["channel"] == "email"
    assert moment(leads["102"]["customer_at"]) == day(41)
    assert rows(acme, "leads", include_deleted=True)["104"]["deleted_at"] is not None
    deals = rows(acme, "deals")
    assert sorted(deals) == ["201", "203"]
    assert deals["203"]["status"] == "won"
    assert moment(deals["203"]["closed_at"]) == day(42)

    # Nothing changed upstream: the next sync writes nothing.
    run = sync_now(acme, connection)
    assert run["status"] == "succeeded"
    assert all(c["written"] == 0 for c in run["counts"].values()), run["counts"]


def test_changes_past_the_search_result_cap_are_all_read(acme, sandbox):
    sandbox.search_cap = 50  # HubSpot's is 10,000; the sandbox refuses pages past it alike
    for n in range(130):
        sandbox.add(
            "contacts",
            {
                "email": f"p{n}@x.example",
                "lifecyclestage": "lead",
                "hs_lifecyclestage_lead_date": day(1),
            },
            at=day(0),
            id=1000 + n,
        )
    connection = connect(acme)
    assert sync_now(acme, connection)["status"] == "succeeded"
    for n in range(130):
        sandbox.modify("contacts", str(1000 + n), {"lifecyclestage": "marketingqualifiedlead"})
    run = sync_now(acme, connection)
    assert run["status"] == "succeeded", run["error"]
    assert run["counts"]["leads"]["written"] == 130
    assert {r["lifecycle_stage"] for r in rows(acme, "leads").values()} == {
        "marketingqualifiedlead"
    }
    assert not [r for r in sandbox.requests if r[2] == 400]
    assert sandbox.count("POST", "/contacts/search") == 3  # 50 + 50 + 30, restarting by id


def test_rate_limits_and_server_errors_are_retried(acme, sandbox):
    seed_small(sandbox)
    connection = connect(acme)
    assert sync_now(acme, connection)["status"] == "succeeded"
    sandbox.modify("contacts", "101", {"lifecyclestage": "evangelist"})
    sandbox.fail_next(429, times=2, path="/contacts/search")  # no Retry-After, as HubSpot
    sandbox.fail_next(502, times=1, path="/objects/deals", method="GET")
    run = sync_now(acme, connection)
    assert run["status"] == "succeeded", run["error"]
    statuses = [s for m, p, s in sandbox.requests if p.endswith("/contacts/search")]
    assert statuses == [429, 429, 200]
    assert [s for m, p, s in sandbox.requests if m == "GET" and p.endswith("/deals")][-2:] == [
        502,
        200,
    ]
    assert rows(acme, "leads")["101"]["lifecycle_stage"] == "evangelist"


def test_a_revoked_token_marks_the_connection_as_needing_new_credentials(acme, sandbox):
    seed_small(sandbox)
    connection = connect(acme)
    client = acme.client("admin")
    assert client.post(f"/api/v1/connections/{connection}/check/").json()["ok"] is True
    sandbox.revoke(TOKEN)
    run = sync_now(acme, connection)
    assert run["status"] == "failed"
    assert run["error"].startswith("HubSpot refused the access token (401)")
    assert "Create a new private-app access token" in run["error"]
    detail = client.get(f"/api/v1/connections/{connection}/").json()
    assert detail["health"] == "needs_credentials"
    assert detail["health_reason"] == run["error"]
    check = client.post(f"/api/v1/connections/{connection}/check/").json()
    assert (check["ok"], check["health"]) == (False, "needs_credentials")
    assert rows(acme, "leads") == {}


def test_a_malformed_page_fails_the_run_and_keeps_the_pages_before_it(acme, sandbox):
    for n in range(250):
        sandbox.add(
            "contacts",
            {"email": f"p{n}@x.example", "hs_lifecyclestage_lead_date": day(1)},
            at=day(0),
            id=1000 + n,
        )
    sandbox.malform_next(path="/crm/v3/objects/contacts", method="GET", skip=1)
    connection = connect(acme)
    run = sync_now(acme, connection)
    assert run["status"] == "failed"
    assert "HubSpot answered a malformed page for the contacts list" in run["error"]
    assert len(rows(acme, "leads")) == 100  # the first page, stored with its cursor
    run = sync_now(acme, connection)  # the next sync resumes at the second page
    assert run["status"] == "succeeded", run["error"]
    assert run["counts"]["leads"]["read"] == 150
    assert len(rows(acme, "leads")) == 250


def test_an_account_without_feedback_surveys_syncs_the_rest(acme, sandbox):
    seed_small(sandbox)
    sandbox.feedback_enabled = False  # 403 MISSING_SCOPES on feedback submissions
    run = sync_now(acme, connect(acme))
    assert run["status"] == "succeeded", run["error"]
    assert len(rows(acme, "leads")) == 3
    assert rows(acme, "survey_responses") == {}


def test_the_token_never_appears_in_answers_logs_or_run_messages(acme, sandbox, caplog):
    caplog.set_level(logging.DEBUG)  # the SDK and urllib3 log requests at debug level
    seed_small(sandbox)
    connection = connect(acme)
    client = acme.client("admin")
    answers = [client.post(f"/api/v1/connections/{connection}/check/")]
    sync_now(acme, connection)
    sandbox.fail_next(400, path="/search")  # not retried: the run fails, and it is logged
    sandbox.modify("contacts", "101", {"lifecyclestage": "evangelist"})
    failed = sync_now(acme, connection)
    assert failed["status"] == "failed"
    assert "HubSpot answered 400 for the contacts search" in failed["error"]
    sandbox.revoke(TOKEN)
    sync_now(acme, connection)
    answers.append(client.post(f"/api/v1/connections/{connection}/check/"))
    answers += [
        client.get(f"/api/v1/connections/{connection}/"),
        client.get(f"/api/v1/connections/{connection}/runs/"),
        client.get("/api/v1/connections/"),
    ]
    assert "failed" in caplog.text
    assert TOKEN not in caplog.text
    for answer in answers:
        assert TOKEN not in answer.content.decode()
    with acme.activate():
        from kpiplatform.connectors.models import Connection

        stored = Connection.objects.get(pk=connection)
        assert TOKEN not in json.dumps(stored.state) + json.dumps(stored.config)
        assert TOKEN not in stored.health_reason
        assert TOKEN not in stored.secrets_encrypted
