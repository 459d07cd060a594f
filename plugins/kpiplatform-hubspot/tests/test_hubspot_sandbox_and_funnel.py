"""The sandbox's command line and generator, and the funnel across sources: HubSpot leads
synced through the connector meet billing customers of the same e-mail."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from decimal import Decimal

import hubspot
from hubspot_testing import TOKEN, connect, rows, sync_now
from kpiplatform_hubspot.sandbox.generate import generate
from urllib3.util.retry import Retry

STRIPE_CUSTOMERS = [
    {"id": f"cus_{n}", "object": "customer", "email": f"Buyer{n}@Shop.example", "created": t}
    for n, t in enumerate((1735725600, 1738404000, 1740823200))  # 1 Jan, 1 Feb, 1 Mar 2025
] + [{"id": "cus_x", "object": "customer", "email": None, "created": 1740823200}]


def test_the_command_line_serves_a_generated_seed_to_the_official_sdk(tmp_path):
    stripe_seed = tmp_path / "stripe.json"
    stripe_seed.write_text(json.dumps({"customers": STRIPE_CUSTOMERS}))
    seed = tmp_path / "hubspot.json"
    generated = subprocess.run(
        [
            sys.executable,
            "-m",
            "kpiplatform_hubspot.sandbox.generate",
            "--out",
            str(seed),
            "--seed-number",
            "3",
            "--stripe-seed",
            str(stripe_seed),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "9 contacts" in generated.stdout  # 3 customers and 2 leads each that never convert
    server = subprocess.Popen(
        [sys.executable, "-m", "kpiplatform_hubspot.sandbox", "--port", "0", "--seed", str(seed)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = server.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        client = hubspot.Client.create(
            access_token="pat-any", host=line.split()[-1], retry=Retry(total=0)
        )
        page = client.crm.contacts.basic_api.get_page(limit=100, properties=["email"])
        emails = {c.properties["email"] for c in page.results}
        assert {f"Buyer{n}@Shop.example" for n in range(3)} <= emails
        assert len(page.results) == 9
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_every_stripe_customer_has_a_contact_that_became_a_customer_around_its_creation():
    seed = generate(5, STRIPE_CUSTOMERS)
    contacts = {c["properties"]["email"]: c["properties"] for c in seed["contacts"]}
    for customer in STRIPE_CUSTOMERS[:3]:
        contact = contacts[customer["email"]]
        assert contact["lifecyclestage"] == "customer"
        became = dt.datetime.fromisoformat(contact["hs_lifecyclestage_customer_date"])
        created = dt.datetime.fromtimestamp(customer["created"], dt.UTC)
        assert abs(became - created) <= dt.timedelta(hours=6)
        assert contact["hs_lifecyclestage_lead_date"] < contact["hs_lifecyclestage_customer_date"]
    others = [p for e, p in contacts.items() if e not in {c["email"] for c in STRIPE_CUSTOMERS}]
    assert len(others) == 6
    assert all(p["lifecyclestage"] != "customer" for p in others)
    assert json.dumps(generate(5, STRIPE_CUSTOMERS)) == json.dumps(seed)


def test_synced_leads_meet_the_billing_customers_of_their_e_mail(acme, sandbox):
    """Two HubSpot leads in January 2025 (paid_search / brand-search, and email), neither a
    customer in HubSpot; billing knows the first's e-mail (other case) as a customer without
    a channel, who paid 100 EUR on 10 January. Lead conversion in January: 1 of 2; the
    customer is a paid_search new customer of January, acquired by brand-search."""
    sandbox.add(
        "contacts",
        {
            "email": "ada@initech.example",
            "lifecyclestage": "salesqualifiedlead",
            "hs_lifecyclestage_lead_date": "2025-01-03T10:00:00.000Z",
            "hs_analytics_source": "PAID_SEARCH",
            "hs_analytics_source_data_1": "brand-search",
        },
        id=11,
    )
    sandbox.add(
        "contacts",
        {
            "email": "bob@example.org",
            "lifecyclestage": "lead",
            "hs_lifecyclestage_lead_date": "2025-01-20T10:00:00.000Z",
            "hs_analytics_source": "EMAIL_MARKETING",
            "hs_analytics_source_data_1": "newsletter",
        },
        id=12,
    )
    assert sync_now(acme, connect(acme))["status"] == "succeeded"
    assert len(rows(acme, "leads")) == 2
    admin = acme.client("admin")
    for dataset, body in (
        (
            "customers",
            [
                {
                    "external_id": "cus_ada",
                    "email": "Ada@Initech.example",
                    "created_at": "2025-01-09T08:00:00Z",
                }
            ],
        ),
        (
            "payments",
            [
                {
                    "external_id": "ch_1",
                    "customer_ref": "cus_ada",
                    "occurred_at": "2025-01-10T09:00:00Z",
                    "amount_minor": 10000,
                    "currency": "EUR",
                }
            ],
        ),
    ):
        answer = admin.post(f"/api/v1/data/{dataset}/", body, content_type="application/json")
        assert answer.status_code == 201, answer.content
    with acme.activate():
        from kpiplatform.testing.kpis import configure_company, recompute_all, stored_values

        configure_company("EUR", "UTC", "1")
        recompute_all()
        january = dt.date(2025, 1, 1)
        conversion = stored_values("lead_conversion_rate")[january]
        assert (conversion.numerator, conversion.denominator) == (1, 2)
        paid_search = stored_values("new_customers", "month", "channel", "paid_search")
        assert paid_search[january].value == 1
        roi = stored_values("marketing_roi", "month", "campaign", "brand-search")
        # No spend for the campaign: no value, but the customer is counted under it.
        assert roi[january].value is None
        revenue = stored_values("revenue", "month", "channel", "paid_search")
        assert revenue[january].value == Decimal(100)
    assert TOKEN not in json.dumps(rows(acme, "leads"))
