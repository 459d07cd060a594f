"""The demo company `make run` prepares: a believable SaaS business to explore.

Eighteen months of a subscription company (customers on three plans in two currencies, with
upgrades, downgrades, churn and win-backs, their invoices, one-off orders and refunds),
marketing spend, CRM leads and deals, daily web traffic and survey answers. Everything is
written through the same bulk writer connectors use, then the KPI engine computes every
value, so the demo exercises the real path. Deterministic: the same data on every machine.

`make run` instead connects the demo to the Stripe, HubSpot and Google Analytics 4 sandboxes
it starts, and the worker syncs them through the real connectors; only the exchange rates
below are imported then.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from kpiplatform.accounts.models import Role, User
from kpiplatform.connectors import demo_sandboxes
from kpiplatform.data.writer import BulkWriter
from kpiplatform.kpis import engine
from kpiplatform.kpis.models import CompanySettings
from kpiplatform.tenants import provisioning
from kpiplatform.tenants.models import Company

DEMO_SLUG = "demo"
DEMO_NAME = "Demo SaaS Ltd"
DEMO_EMAIL = "demo@example.com"
# Shown in the README and printed by `make run`: the demo exists only in development.
DEMO_PASSWORD = "demo-kpiplatform-2026"
# The demo's team, one user of each role, all with DEMO_PASSWORD: (role, e-mail).
DEMO_USERS = (
    (Role.ADMIN, DEMO_EMAIL),
    (Role.ANALYST, "analyst@example.com"),
    (Role.VIEWER, "viewer@example.com"),
)
DEMO_SOURCE = "demo"
MONTHS = 18
# Monthly EUR rates, far enough back for the connector sandboxes' two years of history too.
RATE_MONTHS = 25
CUSTOMERS = 240

PLANS = {  # key: (name, monthly price in minor units of USD)
    "starter": ("Starter", 4_900),
    "growth": ("Growth", 14_900),
    "scale": ("Scale", 49_900),
}
CHANNELS = ("organic", "paid_search", "social", "referral", "email")
COUNTRIES = ("US", "GB", "DE", "FR", "CA", "NL", "ES", "AU")
EUR_COUNTRIES = {"DE", "FR", "NL", "ES"}
EUR_PER_USD_PRICE = 0.92  # EUR list prices are the USD ones times this


@dataclass
class DemoResult:
    created: bool
    url: str


def ensure_demo_company(sandbox_seeds: Path | None = None) -> DemoResult:
    """Create and fill the demo company once; later calls only report where it is.

    With ``sandbox_seeds`` (the seed folder of the running connector sandboxes, see
    ``kpiplatform/connectors/demo_sandboxes.py``) the demo is connected to those sandboxes and
    its data arrives through the real connectors' syncs; only the exchange rates, which no
    connector brings, are imported. Without it, the generated data below is imported.
    """
    from kpiplatform.hosts import company_url

    url = company_url(DEMO_SLUG)
    if Company.objects.filter(slug=DEMO_SLUG).exists():
        return DemoResult(False, url)
    company, _ = provisioning.create_company(
        provisioning.SignupRequest(
            company_name=DEMO_NAME,
            slug=DEMO_SLUG,
            admin_email=DEMO_EMAIL,
            admin_password=DEMO_PASSWORD,
        )
    )
    with schema_context(company.schema_name):
        _add_team()
        settings = CompanySettings.current()
        settings.reporting_currency = "USD"
        settings.gross_margin = "0.8"
        settings.save()
        data = generate(timezone.now().date())
        if sandbox_seeds is not None:
            data = {"exchange_rates": data["exchange_rates"]}
        with transaction.atomic():
            _write(data)
        if sandbox_seeds is not None:
            # The worker syncs them (the first sync is queued now, then every 15 minutes);
            # each sync's write triggers the recompute, as an import's does.
            demo_sandboxes.connect(sandbox_seeds, demo_sandboxes.demo_connectors())
        else:
            engine.recompute_everything()
    return DemoResult(True, url)


def _add_team() -> None:
    for role, email in DEMO_USERS:
        if role != Role.ADMIN:  # the admin is created with the company
            User.objects.create_user(email=email, password=DEMO_PASSWORD, role=role)


def _write(datasets: dict[str, list[dict]]) -> None:
    writer = BulkWriter(DEMO_SOURCE)
    for dataset, records in datasets.items():
        writer.upsert(dataset, records)


def _month_start(today: dt.date, months_back: int) -> dt.date:
    index = today.year * 12 + today.month - 1 - months_back
    return dt.date(index // 12, index % 12 + 1, 1)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _at(day: dt.date, hour: int = 10) -> str:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC).isoformat()


def generate(today: dt.date) -> dict[str, list[dict]]:
    """Every dataset of the demo, as import records, ending ``today``."""
    rng = random.Random(20261125)
    start = _month_start(today, MONTHS - 1)
    days = (today - start).days
    data: dict[str, list[dict]] = {
        name: []
        for name in (
            "exchange_rates",
            "plans",
            "customers",
            "mrr_segments",
            "payments",
            "spend",
            "leads",
            "deals",
            "web_traffic",
            "survey_responses",
        )
    }
    for month in range(RATE_MONTHS + 1):
        day = _month_start(today, RATE_MONTHS - month)
        rate = round(1.05 + 0.04 * rng.random(), 4)
        data["exchange_rates"].append(
            {"external_id": f"eur-{day}", "day": str(day), "currency": "EUR", "rate": str(rate)}
        )
    for key, (name, price) in PLANS.items():
        for currency, amount in (("USD", price), ("EUR", round(price * EUR_PER_USD_PRICE))):
            data["plans"].append(
                {
                    "external_id": f"{key}-{currency.lower()}",
                    "name": name,
                    "interval": "month",
                    "interval_count": 1,
                    "amount_minor": amount,
                    "currency": currency,
                }
            )
    for number in range(1, CUSTOMERS + 1):
        _customer(rng, data, number, start, days, today)
    for month in range(MONTHS):
        month_start = _month_start(today, MONTHS - 1 - month)
        for channel in CHANNELS[1:]:
            data["spend"].append(
                {
                    "external_id": f"spend-{month_start}-{channel}",
                    "spent_on": str(month_start),
                    "channel": channel,
                    "campaign": f"{channel}-always-on",
                    "amount_minor": rng.randint(80_000, 350_000),
                    "currency": "USD",
                }
            )
    for offset in range(days + 1):
        day = start + dt.timedelta(days=offset)
        for channel in CHANNELS:
            sessions = rng.randint(80, 600) + offset // 3
            engaged = int(sessions * rng.uniform(0.45, 0.7))
            data["web_traffic"].append(
                {
                    "external_id": f"web-{day}-{channel}",
                    "day": str(day),
                    "channel": channel,
                    "sessions": sessions,
                    "engaged_sessions": engaged,
                    "key_event_sessions": int(engaged * rng.uniform(0.02, 0.06)),
                    "users": int(sessions * 0.8),
                    "currency": "USD",
                }
            )
    return data


def _customer(rng, data, number: int, start: dt.date, days: int, today: dt.date) -> None:
    ref = f"cus_{number:04d}"
    signup = start + dt.timedelta(days=int(days * (number / CUSTOMERS) ** 0.8))
    country = rng.choice(COUNTRIES)
    currency = "EUR" if country in EUR_COUNTRIES else "USD"
    channel = rng.choice(CHANNELS)
    campaign = f"{channel}-always-on" if channel != "organic" else ""
    data["customers"].append(
        {
            "external_id": ref,
            "name": f"Customer {number}",
            "email": f"billing@customer{number}.example",
            "country": country,
            "created_at": _at(signup),
            "channel": channel,
            "campaign": campaign,
        }
    )
    lead_day = signup - dt.timedelta(days=rng.randint(3, 40))
    data["leads"].append(
        {
            "external_id": f"lead-{ref}",
            "email": f"billing@customer{number}.example",
            "created_at": _at(lead_day),
            "lifecycle_stage": "customer",
            "customer_at": _at(signup),
            "customer_ref": ref,
            "channel": channel,
            "campaign": campaign,
        }
    )
    for extra in range(rng.randint(1, 3)):  # leads that did not convert
        day = lead_day + dt.timedelta(days=rng.randint(0, 20))
        if day <= today:
            data["leads"].append(
                {
                    "external_id": f"lead-{ref}-{extra}",
                    "created_at": _at(day),
                    "lifecycle_stage": "lead",
                    "channel": rng.choice(CHANNELS),
                }
            )
    plan = rng.choices(list(PLANS), weights=(6, 3, 1))[0]
    if number % 4 == 0:
        won = rng.random() < 0.6
        data["deals"].append(
            {
                "external_id": f"deal-{ref}",
                "name": f"Customer {number} {PLANS[plan][0]}",
                "amount_minor": PLANS[plan][1] * 12,
                "currency": "USD",
                "stage": "closedwon" if won else "closedlost",
                "status": "won" if won else "lost",
                "created_at": _at(lead_day),
                "closed_at": _at(signup),
            }
        )
    _subscription_history(rng, data, ref, plan, currency, signup, today)
    if rng.random() < 0.3:
        _survey(rng, data, ref, signup, today)


def _price(plan: str, currency: str) -> int:
    price = PLANS[plan][1]
    return price if currency == "USD" else round(price * EUR_PER_USD_PRICE)


def _subscription_history(rng, data, ref, plan, currency, signup, today) -> None:
    """Segments month by month: upgrades, downgrades, churn and sometimes a win-back."""
    order = list(PLANS)
    segment_start = signup
    day = signup
    active = True
    seats = rng.randint(1, 3)
    while day <= today:
        if active:
            amount = _price(plan, currency) * seats
            _invoice(data, ref, day, amount, currency)
            roll = rng.random()
            next_day = _add_months(day, 1)
            change = None
            if roll < 0.025:
                change = "churn"
            elif roll < 0.06 and order.index(plan) < 2:
                change = "upgrade"
            elif roll < 0.075 and seats > 1:
                change = "fewer seats"
            elif roll < 0.1:
                change = "more seats"
            if change and next_day <= today:
                _segment(data, ref, plan, currency, segment_start, next_day, amount)
                segment_start = next_day
                if change == "churn":
                    active = False
                elif change == "upgrade":
                    plan = order[order.index(plan) + 1]
                elif change == "fewer seats":
                    seats -= 1
                else:
                    seats += 1
            day = next_day
        else:
            day = _add_months(day, 1)
            if rng.random() < 0.06 and day <= today:  # win-back
                active = True
                segment_start = day
    if active:
        _segment(data, ref, plan, currency, segment_start, None, _price(plan, currency) * seats)
    if rng.random() < 0.15:
        order_day = signup + dt.timedelta(days=rng.randint(5, 200))
        if order_day <= today:
            amount = rng.choice((19_900, 49_900, 99_900))
            data["payments"].append(
                {
                    "external_id": f"order-{ref}",
                    "customer_ref": ref,
                    "kind": "charge",
                    "status": "succeeded",
                    "occurred_at": _at(order_day, 15),
                    "amount_minor": amount,
                    "tax_minor": amount // 5,
                    "currency": currency,
                    "is_order": True,
                    "order_ref": f"order-{ref}",
                }
            )
            if rng.random() < 0.2 and order_day + dt.timedelta(days=9) <= today:
                data["payments"].append(
                    {
                        "external_id": f"refund-{ref}",
                        "customer_ref": ref,
                        "kind": "refund",
                        "status": "succeeded",
                        "occurred_at": _at(order_day + dt.timedelta(days=9), 11),
                        "amount_minor": amount,
                        "currency": currency,
                        "is_order": True,
                        "order_ref": f"order-{ref}",
                    }
                )


def _segment(data, ref, plan, currency, starts_on, ends_on, mrr_minor) -> None:
    data["mrr_segments"].append(
        {
            "external_id": f"seg-{ref}-{starts_on}",
            "customer_ref": ref,
            "subscription_ref": f"sub-{ref}",
            "plan_ref": f"{plan}-{currency.lower()}",
            "starts_on": str(starts_on),
            "ends_on": str(ends_on) if ends_on else None,
            "mrr_minor": mrr_minor,
            "currency": currency,
        }
    )


def _invoice(data, ref, day, amount, currency) -> None:
    data["payments"].append(
        {
            "external_id": f"inv-{ref}-{day}",
            "customer_ref": ref,
            "kind": "charge",
            "status": "succeeded",
            "occurred_at": _at(day, 9),
            "amount_minor": amount,
            "tax_minor": amount // 5,
            "currency": currency,
            "invoice_ref": f"in-{ref}-{day}",
        }
    )


def _survey(rng, data, ref, signup, today) -> None:
    day = signup + dt.timedelta(days=rng.randint(20, 120))
    if day > today:
        return
    data["survey_responses"].append(
        {
            "external_id": f"nps-{ref}",
            "customer_ref": ref,
            "kind": "nps",
            "score": rng.choices(range(11), weights=(1, 1, 1, 1, 2, 2, 3, 5, 9, 10, 8))[0],
            "scale_min": 0,
            "scale_max": 10,
            "responded_at": _at(day, 13),
        }
    )
    data["survey_responses"].append(
        {
            "external_id": f"csat-{ref}",
            "customer_ref": ref,
            "kind": "csat",
            "score": rng.choices(range(1, 6), weights=(1, 2, 4, 9, 8))[0],
            "scale_min": 1,
            "scale_max": 5,
            "responded_at": _at(day, 14),
        }
    )
