"""``python -m kpiplatform_hubspot.sandbox.generate --out FILE [--seed-number 7]
[--stripe-seed FILE]``: a realistic company's CRM as a sandbox seed file.

Contacts go through HubSpot's lifecycle stages (``hs_lifecyclestage_<stage>_date``) with an
original source (``hs_analytics_source`` and its drill-downs); customers have a won deal,
some leads lost or open ones; customers answer NPS and CSAT surveys. With ``--stripe-seed``
(a JSON file whose ``customers`` are Stripe customer objects with ``email`` and
``created``), every Stripe customer has a contact of the same e-mail that became a customer
around its ``created``; without it, the customers are invented over two years. Leads that
never convert come on top. The same seed number gives the same file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
from pathlib import Path

from kpiplatform_hubspot.sandbox.server import crm_object

# The end of the invented history: fixed, so the output depends on the seed number alone.
HISTORY_END = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
HISTORY_DAYS = 730
INVENTED_CUSTOMERS = 400
# Leads that never become customers, per customer.
LEADS_PER_CUSTOMER = 2

# (original source, weight, drill-down 1 choices, drill-down 2 choices)
SOURCES = (
    ("ORGANIC_SEARCH", 30, ("google", "bing"), ("kpi dashboard", "mrr tracking", "saas metrics")),
    ("PAID_SEARCH", 20, ("brand-search", "competitor-search"), ("kpi software", "churn tool")),
    ("PAID_SOCIAL", 12, ("LinkedIn", "Facebook"), ("founders-q1", "retargeting")),
    ("EMAIL_MARKETING", 10, ("newsletter-monthly", "webinar-invite"), (None,)),
    ("SOCIAL_MEDIA", 8, ("LinkedIn", "Twitter"), (None,)),
    ("REFERRALS", 8, ("partner.example", "review-site.example"), (None,)),
    ("DIRECT_TRAFFIC", 8, ("app.example/pricing",), (None,)),
    ("OTHER_CAMPAIGNS", 3, ("spring-promo",), (None,)),
    ("OFFLINE", 1, ("IMPORT", "CRM_UI"), (None,)),
)
FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus", "Radia")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton")
OPEN_DEAL_STAGES = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled")


def generate(seed_number: int = 7, stripe_customers: list[dict] | None = None) -> dict:
    """The seed: ``{"contacts": [...], "deals": [...], "feedback_submissions": [...]}``."""
    rng = random.Random(seed_number)
    people: list[tuple[str, dt.datetime | None]] = []  # e-mail, became customer (None: never)
    if stripe_customers is not None:
        for customer in stripe_customers:
            if customer.get("email"):
                became = dt.datetime.fromtimestamp(int(customer["created"]), dt.UTC)
                people.append((customer["email"], became + dt.timedelta(hours=rng.randint(-6, 6))))
        anchor_start = min((b for _, b in people if b), default=HISTORY_END)
        anchor_end = max((b for _, b in people if b), default=HISTORY_END)
    else:
        anchor_end = HISTORY_END
        anchor_start = HISTORY_END - dt.timedelta(days=HISTORY_DAYS)
        span = (anchor_end - anchor_start).total_seconds()
        for n in range(INVENTED_CUSTOMERS):
            became = anchor_start + dt.timedelta(seconds=rng.uniform(30 * 86400, span))
            people.append((f"buyer{n:04d}@customer{n % 97:02d}.example", became))
    span = max((anchor_end - anchor_start).total_seconds(), 86400.0)
    for n in range(LEADS_PER_CUSTOMER * len(people)):
        people.append((f"lead{n:05d}@prospect{n % 89:02d}.example", None))

    contacts, deals, feedback = [], [], []
    next_id = {"contacts": 1001, "deals": 500001, "feedback_submissions": 900001}
    for email, became in people:
        if became is not None:
            lead_at = became - dt.timedelta(days=rng.uniform(3, 60))
        else:
            lead_at = anchor_start + dt.timedelta(seconds=rng.uniform(0, span))
        source, _, drill_1, drill_2 = rng.choices(SOURCES, weights=[s[1] for s in SOURCES])[0]
        stages = {"subscriber": lead_at - dt.timedelta(days=rng.uniform(0, 10)), "lead": lead_at}
        stage = "lead"
        if became is not None or rng.random() < 0.3:
            mql_end = became or lead_at + dt.timedelta(days=20)
            stages["marketingqualifiedlead"] = lead_at + (mql_end - lead_at) * 0.3
            stage = "marketingqualifiedlead"
        if became is not None:
            stages["salesqualifiedlead"] = lead_at + (became - lead_at) * 0.6
            stages["opportunity"] = lead_at + (became - lead_at) * 0.8
            stages["customer"] = became
            stage = "customer"
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        contact_id = str(next_id["contacts"])
        next_id["contacts"] += 1
        properties = {
            "email": email,
            "firstname": first,
            "lastname": last,
            "lifecyclestage": stage,
            "hs_analytics_source": source,
            "hs_analytics_source_data_1": rng.choice(drill_1),
            "hs_analytics_source_data_2": rng.choice(drill_2),
            **{f"hs_lifecyclestage_{name}_date": at for name, at in stages.items()},
        }
        modified = max(stages.values())
        contacts.append(
            crm_object("contacts", contact_id, properties, stages["subscriber"], modified)
        )
        if became is not None or stage == "marketingqualifiedlead":
            deals.append(_deal(rng, next_id, first, last, lead_at, became, anchor_end))
        if became is not None and rng.random() < 0.35:
            feedback.append(_survey(rng, next_id, contact_id, email, became))
    return {"contacts": contacts, "deals": deals, "feedback_submissions": feedback}


def _deal(rng, next_id, first, last, lead_at, became, history_end) -> dict:
    deal_id = str(next_id["deals"])
    next_id["deals"] += 1
    created = lead_at + dt.timedelta(days=rng.uniform(1, 3))
    amount = rng.choice((49, 99, 199, 490, 990, 1990)) * 100
    if became is not None:
        stage, closed, won = "closedwon", became, True
    elif rng.random() < 0.6:
        stage, closed, won = "closedlost", created + dt.timedelta(days=rng.uniform(5, 40)), False
    else:
        stage, closed, won = rng.choice(OPEN_DEAL_STAGES), None, False
    if closed is not None and closed > history_end and not won:  # not lost yet
        stage, closed = rng.choice(OPEN_DEAL_STAGES), None
    properties = {
        "dealname": f"{first} {last} subscription",
        "amount": f"{amount / 100:.2f}",
        "deal_currency_code": "USD",
        "dealstage": stage,
        "pipeline": "default",
        "closedate": closed,
        "hs_is_closed_won": won,
        "hs_is_closed": closed is not None,
    }
    return crm_object("deals", deal_id, properties, created, closed or created)


def _survey(rng, next_id, contact_id, email, became) -> dict:
    survey_id = str(next_id["feedback_submissions"])
    next_id["feedback_submissions"] += 1
    at = became + dt.timedelta(days=rng.uniform(20, 200))
    nps = rng.random() < 0.6
    properties = {
        "hs_survey_type": "NPS" if nps else "CSAT",
        "hs_value": rng.choices(range(11), weights=(1, 1, 1, 1, 2, 2, 4, 6, 10, 12, 10))[0]
        if nps
        else rng.choices(range(1, 6), weights=(1, 2, 4, 8, 6))[0],
        "hs_contact_id": contact_id,
        "hs_contact_email_rollup": email,
        "hs_survey_name": "Quarterly NPS" if nps else "Support CSAT",
    }
    return crm_object("feedback_submissions", survey_id, properties, at)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate a HubSpot sandbox seed file.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed-number", type=int, default=7)
    parser.add_argument(
        "--stripe-seed",
        type=Path,
        help="a Stripe sandbox seed: its customers get matching contacts by e-mail",
    )
    args = parser.parse_args(argv)
    stripe_customers = None
    if args.stripe_seed:
        stripe_customers = json.loads(args.stripe_seed.read_text()).get("customers", [])
    seed = generate(args.seed_number, stripe_customers)
    args.out.write_text(json.dumps(seed, indent=1, sort_keys=True))
    counts = ", ".join(f"{len(v)} {k}" for k, v in seed.items())
    print(f"wrote {args.out}: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
