"""Alert rules are evaluated after each recompute of their KPI: a rule fires once when its
condition starts to hold, stays silent while it holds and resolves when it stops."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kpiplatform.testing.data import load_records
from kpiplatform.testing.kpis import (
    WORKED_EXAMPLE_SEGMENTS,
    configure_company,
    mrr_segment,
    recompute_all,
    recompute_pending,
)
from kpiplatform.testing.shared import shared_company


def _computed_worked_example() -> None:
    configure_company("EUR", "UTC", "1")
    load_records("mrr_segments", WORKED_EXAMPLE_SEGMENTS)
    recompute_all()


# One worker runs the module, so the worked example is computed once.
pytestmark = pytest.mark.xdist_group("alerts-evaluation")


@pytest.fixture(scope="module")
def worked_example_company(standing_companies, django_db_blocker):
    """The worked example: MRR of every month from March 2025 on is 320 (A 150, C 30, D 80,
    E 60), so the latest month's MRR is 320. Computed once in a company of its own."""
    with shared_company(django_db_blocker, "Alerts Co", _computed_worked_example) as company:
        yield company


@pytest.fixture
def worked_example(worked_example_company, db):
    """The worked example's company; the rules, imports and events of a test are rolled back
    with its transaction."""
    return worked_example_company


def _memory_channel(name="memory"):
    from kpiplatform.alerts.models import Channel

    return Channel.objects.create(name=name, kind="example_memory", config={"label": name})


def _rule(condition, threshold=None, kpi_key="mrr", **fields):
    from kpiplatform.alerts.models import Rule

    rule = Rule.objects.create(
        name=f"MRR {condition}",
        kpi_key=kpi_key,
        grain="month",
        condition=condition,
        threshold=None if threshold is None else Decimal(threshold),
        **fields,
    )
    rule.channels.add(_memory_channel())
    return rule


def _events(rule):
    return [(e.kind, e.value) for e in rule.events.order_by("created_at", "id")]


def _import_segment(external_id, start, end, mrr):
    load_records(
        "mrr_segments", [{**mrr_segment("F", start, end, mrr), "external_id": external_id}]
    )
    recompute_pending()


def test_fires_once_stays_silent_while_above_and_resolves_when_back(worked_example):
    from kpiplatform.alerts.models import Delivery

    with worked_example.activate():
        rule = _rule("above", "400")
        # A new customer F at 100 from April 2025: the latest MRR is 420, above 400.
        _import_segment("f-1", "2025-04-01", None, 100)
        rule.refresh_from_db()
        assert rule.firing is True
        assert _events(rule) == [("fired", Decimal("420"))]
        fired = rule.events.get()
        assert fired.subject == "MRR above: MRR is above 400"
        assert "is 420 for" in fired.body
        # One delivery per channel, waiting for its task.
        assert list(Delivery.objects.filter(event=fired).values_list("status", flat=True)) == [
            "pending"
        ]
        # Another import that keeps MRR above 400 (F grows to 130: 450): no new event.
        _import_segment("f-1", "2025-04-01", None, 130)
        assert _events(rule) == [("fired", Decimal("420"))]
        # F leaves at the end of April 2025: MRR is back to 320, the rule resolves.
        _import_segment("f-1", "2025-04-01", "2025-05-01", 130)
        rule.refresh_from_db()
        assert rule.firing is False
        assert _events(rule) == [("fired", Decimal("420")), ("resolved", Decimal("320"))]
        assert rule.events.filter(kind="resolved").get().subject == "Resolved: MRR above"


def test_change_against_the_previous_period_in_percent_and_in_points(worked_example):
    with worked_example.activate():
        # Day grain: the last stored day is today, at 320; a new customer from yesterday
        # makes today's MRR 320 + 32 = 352 against 320 + 32 the day before: no change. So
        # use the month grain with a change that starts this month.
        today = dt.date.today()
        this_month = today.replace(day=1).isoformat()
        percent = _rule("change_percent", "9")
        points = _rule("change_points", "40")
        # +32 this month: 352 against 320 is +10 % (above 9 %) but +32 (not above 40).
        _import_segment("f-2", this_month, None, 32)
        percent.refresh_from_db()
        points.refresh_from_db()
        assert percent.firing is True and points.firing is False
        assert _events(percent) == [("fired", Decimal("352"))]
        assert percent.events.get().previous_value == Decimal("320")


def test_behind_goal_uses_the_goal_of_the_period(worked_example):
    from kpiplatform.goals.models import Goal

    with worked_example.activate():
        Goal.objects.create(kpi_key="mrr", grain="month", target=Decimal("300"))
        rule = _rule("behind_goal")
        from kpiplatform.alerts.evaluate import evaluate

        evaluate(rule_ids=[rule.id])
        assert _events(rule) == []  # 320 meets 300
        Goal.objects.update(target=Decimal("350"))
        evaluate(kpi_keys=["mrr"])
        assert _events(rule) == [("fired", Decimal("320"))]
        assert rule.events.get().target == Decimal("350")


def test_snoozed_rule_records_without_delivering_and_muted_rule_is_not_evaluated(
    worked_example,
):
    from django.utils import timezone

    from kpiplatform.alerts.models import Delivery

    with worked_example.activate():
        snoozed = _rule("above", "400", snoozed_until=timezone.now() + dt.timedelta(hours=1))
        muted = _rule("above", "400", muted=True)
        _import_segment("f-3", "2025-04-01", None, 100)
        event = snoozed.events.get()
        assert event.silenced is True
        assert not Delivery.objects.filter(event=event).exists()
        assert _events(muted) == []


def test_delivery_through_a_plugin_channel_is_sent_once(worked_example):
    from kpiplatform_example import plugin as example

    from kpiplatform.alerts.delivery import deliver
    from kpiplatform.alerts.models import Delivery

    with worked_example.activate():
        rule = _rule("above", "400")
        _import_segment("f-4", "2025-04-01", None, 100)
        delivery = Delivery.objects.get(event__rule=rule)
        before = len(example.OUTBOX)
        assert deliver(delivery.id, 1) == "sent"
        # The same task delivered again (a redelivered message) sends nothing.
        assert deliver(delivery.id, 1) == "skipped"
        assert len(example.OUTBOX) == before + 1
        config, message = example.OUTBOX[-1]
        assert config == {"label": "memory"}
        assert message.key == str(delivery.key)
        assert message.data["value"] == "420" and message.data["threshold"] == "400"
        delivery.refresh_from_db()
        assert delivery.status == "sent" and delivery.attempts == 1
        assert [(a.number, a.ok) for a in delivery.log.all()] == [(1, True)]
