"""One hand-worked scenario per MRR rule (KPI definitions, "From billing data to MRR
segments"), billed by the sandbox as Stripe bills, synced through the real SDK: the segments
and the movements of the ledger are the ones worked out by hand below.

All in 2025, so every period is closed history; reporting currency USD, 1 EUR = 1.10 USD.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from kpiplatform_stripe.sandbox.shapes import advance
from stripe_helpers import connect, segments_of, stored, sync_now

from kpiplatform.connectors import sync
from kpiplatform.connectors.models import Connection, SyncRun
from kpiplatform.data.models import MrrSegment, Payment
from kpiplatform.data.writer import BulkWriter
from kpiplatform.facts.models import MrrMovement
from kpiplatform.testing.kpis import configure_company, recompute_all, stored_values


def ts(day: str) -> int:
    return int(dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), dt.UTC).timestamp())


UNTIL = ts("2025-06-01")


def renew_until(sandbox, sub: dict, until: int = UNTIL, *, unpaid_at: int | None = None) -> None:
    """Bill each period that starts before ``until`` (``unpaid_at``: that one fails)."""
    while True:
        end = sub["items"]["data"][0]["current_period_end"]
        if end >= until or sub["status"] == "canceled":
            return
        sandbox.billing.renew(sub, end, pay=end != unpaid_at)


@pytest.fixture
def scenarios(empty_sandbox):
    sb = empty_sandbox
    subs = {}

    def new(name: str, price: str, day: str, **options):
        _customer, sub = sb.add_customer(
            email=f"{name}@rules.example", name=name, price_id=price, at=ts(day), **options
        )
        subs[name] = sub
        return sub

    # Trial: 14 free days, then 99/month.
    renew_until(sb, new("trial", "price_pro_monthly_usd", "2025-01-01", trial_days=14))
    # 100 % coupon forever, and a $0 plan: never MRR.
    renew_until(sb, new("free100", "price_pro_monthly_usd", "2025-01-01", coupon_id="PARTNER100"))
    renew_until(sb, new("zero", "price_free_monthly_usd", "2025-01-01"))
    # Yearly: 990/year is 82.50/month.
    renew_until(sb, new("yearly", "price_pro_yearly_usd", "2025-03-01"))
    # Quantity: 3 seats at 15, then 5 seats from 11 January (prorated).
    sub = new("seats", "price_team_seat_monthly_usd", "2025-01-01", quantity=3)
    sb.upgrade(sub["id"], "price_team_seat_monthly_usd", quantity=5, at=ts("2025-01-11"))
    renew_until(sb, sub)
    # Proration: Starter 29 upgraded to Pro 99 on 16 January, mid-period.
    sub = new("upgrade", "price_starter_monthly_usd", "2025-01-01")
    proration = sb.upgrade(sub["id"], "price_pro_monthly_usd", at=ts("2025-01-16"))
    renew_until(sb, sub)
    # Pause: paused from the 1 March invoice (voided), resumed on 1 April.
    sub = new("paused", "price_starter_monthly_usd", "2025-01-01")
    renew_until(sb, sub, ts("2025-02-02"))
    sb.pause(sub["id"], at=ts("2025-02-20"))
    renew_until(sb, sub, ts("2025-03-02"))
    sb.billing.resume(ts("2025-04-01"), sub)
    renew_until(sb, sub)
    # Past due: the 1 March invoice fails; Stripe cancels the subscription on 20 March.
    sub = new("pastdue", "price_starter_monthly_usd", "2025-01-01")
    renew_until(sb, sub, ts("2025-03-20"), unpaid_at=ts("2025-03-01"))
    sb.cancel_now(sub["id"], at=ts("2025-03-20"))
    # Multi-currency: a German customer at 89 EUR (+ 19 % VAT) from 1 February.
    renew_until(sb, new("euro", "price_pro_monthly_eur", "2025-02-01", country="DE"))
    # Cancellation at period end: asked on 10 February, service ends on 1 March.
    sub = new("leaving", "price_pro_monthly_usd", "2025-01-01")
    renew_until(sb, sub, ts("2025-02-02"))
    sb.cancel_at_period_end(sub["id"], at=ts("2025-02-10"))
    sb.cancel_now(sub["id"], at=sub["cancel_at"])
    # Repeating coupon: 20 % off for 3 months, then full price; a once-only coupon: no change.
    renew_until(sb, new("launch", "price_pro_monthly_usd", "2025-01-01", coupon_id="LAUNCH20"))
    renew_until(sb, new("once", "price_pro_monthly_usd", "2025-01-01", coupon_id="FIRST50"))
    return sb, subs, proration


def movements(company, customer_ref: str) -> list[tuple]:
    with company.activate():
        return [
            (m.day.isoformat(), m.kind, m.amount)
            for m in MrrMovement.objects.filter(customer_ref=customer_ref).order_by("day")
        ]


def test_each_mrr_rule_gives_the_hand_worked_segments_and_movements(acme, scenarios):
    _sandbox, subs, proration = scenarios
    with acme.activate():
        configure_company(reporting_currency="USD", time_zone="UTC")
        BulkWriter("import").upsert(
            "exchange_rates",
            [{"external_id": "EUR-2025", "day": "2025-01-01", "currency": "EUR", "rate": "1.1"}],
        )
    assert sync_now(acme, connect(acme)).startswith("succeeded")
    with acme.activate():
        recompute_all()

    def seg(name):
        return segments_of(acme, subs[name]["id"])

    usd_pro = "price_pro_monthly_usd"
    assert seg("trial") == [("2025-01-15", None, 9900, "USD", usd_pro)]
    assert seg("free100") == []
    assert seg("zero") == []
    assert seg("yearly") == [("2025-03-01", None, 8250, "USD", "price_pro_yearly_usd")]
    team = "price_team_seat_monthly_usd"
    assert seg("seats") == [
        ("2025-01-01", "2025-01-11", 4500, "USD", team),
        ("2025-01-11", None, 7500, "USD", team),
    ]
    starter = "price_starter_monthly_usd"
    assert seg("upgrade") == [
        ("2025-01-01", "2025-01-16", 2900, "USD", starter),
        ("2025-01-16", None, 9900, "USD", usd_pro),
    ]
    # The prorated charge (about half of the difference) is not MRR.
    assert 0 < proration["total"] < 9900 - 2900
    assert seg("paused") == [
        ("2025-01-01", "2025-03-01", 2900, "USD", starter),
        ("2025-04-01", None, 2900, "USD", starter),
    ]
    assert seg("pastdue") == [("2025-01-01", "2025-03-20", 2900, "USD", starter)]
    assert seg("euro") == [("2025-02-01", None, 8900, "EUR", "price_pro_monthly_eur")]
    assert seg("leaving") == [("2025-01-01", "2025-03-01", 9900, "USD", usd_pro)]
    assert seg("launch") == [
        ("2025-01-01", "2025-04-01", 7920, "USD", usd_pro),
        ("2025-04-01", None, 9900, "USD", usd_pro),
    ]
    assert seg("once") == [("2025-01-01", None, 9900, "USD", usd_pro)]

    def moved(name):
        return movements(acme, subs[name]["customer"])

    d = Decimal
    assert moved("trial") == [("2025-01-15", "new", d("99"))]
    assert moved("free100") == moved("zero") == []
    assert moved("yearly") == [("2025-03-01", "new", d("82.5"))]
    assert moved("seats") == [("2025-01-01", "new", d("45")), ("2025-01-11", "expansion", d("30"))]
    assert moved("upgrade") == [
        ("2025-01-01", "new", d("29")),
        ("2025-01-16", "expansion", d("70")),
    ]
    assert moved("paused") == [
        ("2025-01-01", "new", d("29")),
        ("2025-03-01", "churn", d("-29")),
        ("2025-04-01", "reactivation", d("29")),
    ]
    assert moved("pastdue") == [("2025-01-01", "new", d("29")), ("2025-03-20", "churn", d("-29"))]
    # 89 EUR at the rate of the segment's first day: 97.90 USD.
    assert moved("euro") == [("2025-02-01", "new", d("97.9"))]
    # Churns when the service ends, not on the day the cancellation was asked for.
    assert moved("leaving") == [("2025-01-01", "new", d("99")), ("2025-03-01", "churn", d("-99"))]
    assert moved("launch") == [
        ("2025-01-01", "new", d("79.2")),
        ("2025-04-01", "expansion", d("19.8")),
    ]

    # The European customer's payments exclude the 19 % VAT: 8900 + 1691 charged, 8900 stored.
    euro_payments = stored(acme, Payment, customer_ref=subs["euro"]["customer"], kind="charge")
    assert {(p["amount_minor"], p["tax_minor"]) for p in euro_payments.values()} == {(8900, 1691)}
    assert advance(ts("2025-01-31"), "month") == ts("2025-02-28")  # Stripe's month ends


def test_segment_days_are_the_company_time_zones_and_follow_a_change_of_it(acme, empty_sandbox):
    # 1 March 2025 at 02:00 UTC is 28 February, 21:00 in New York: a February start there.
    _customer, sub = empty_sandbox.add_customer(
        email="late@zones.example",
        name="late",
        price_id="price_starter_monthly_usd",
        at=ts("2025-03-01") + 2 * 3600,
    )
    renew_until(empty_sandbox, sub)
    starter = "price_starter_monthly_usd"
    with acme.activate():
        configure_company(reporting_currency="USD", time_zone="America/New_York")
    connection_id = connect(acme)
    assert sync_now(acme, connection_id).startswith("succeeded")
    assert segments_of(acme, sub["id"]) == [("2025-02-28", None, 2900, "USD", starter)]
    with acme.activate():
        recompute_all()
        mrr = stored_values("mrr")
    assert mrr[dt.date(2025, 2, 1)].value == 29  # February's MRR, at its end in New York

    # The admin moves the company to UTC: a sync starts, and cuts the days again.
    answer = acme.client("admin").patch(
        "/api/v1/settings/", {"time_zone": "UTC"}, content_type="application/json"
    )
    assert answer.status_code == 200, answer.content
    with acme.activate():
        queued = SyncRun.objects.filter(status=SyncRun.Status.QUEUED).get()
        assert queued.trigger == "settings"
        assert sync.run(connection_id).startswith("succeeded")
        old = MrrSegment.objects.get(external_id__endswith=":2025-02-28")
        state = Connection.objects.get(pk=connection_id).state
        recompute_all()
        mrr = stored_values("mrr")
    assert segments_of(acme, sub["id"]) == [("2025-03-01", None, 2900, "USD", starter)]
    february = mrr.get(dt.date(2025, 2, 1))
    assert (february.value if february else 0, mrr[dt.date(2025, 3, 1)].value) == (0, 29)
    assert old.deleted_at is not None  # the New York day is tombstoned
    assert state["time_zone"] == "UTC" and state["mode"] == "events"
