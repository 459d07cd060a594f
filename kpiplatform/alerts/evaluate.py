"""Evaluating alert rules after a recompute: one SQL read for every rule of the recomputed
KPIs, writes only for the rules whose state flips.

A rule looks at the latest stored period of its KPI, grain and segment (the current period as
the data reaches it), fires when its condition starts to hold, stays silent while it holds and
resolves when it stops. Each notification to each channel is a delivery sent by a task of its
own once the transaction commits (:mod:`kpiplatform.alerts.delivery`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import connection, transaction
from django.dispatch import receiver
from django.utils import timezone

from kpiplatform.alerts import conditions
from kpiplatform.alerts.models import Delivery, Event, Rule
from kpiplatform.hosts import company_url
from kpiplatform.kpis.registry import registered_kpis
from kpiplatform.kpis.signals import kpi_values_stored
from kpiplatform.sdk import KPI, Grain, Period

logger = logging.getLogger(__name__)

# One read for all the rules: the latest stored period of each (KPI, grain) the rules watch
# (a max() on the kpis_value unique index, once per pair, not per rule), then each rule's
# value of that period, the value of the period before (change conditions) and the period's
# goal (dated, else standing), each an equality lookup on a unique index. A segment with no
# value in the latest period has nothing to tell.
_OBSERVE = """
WITH rules AS MATERIALIZED (
    SELECT id, kpi_key, grain, segment_kind, segment_value, condition, threshold, firing,
           snoozed_until IS NOT NULL AND snoozed_until > now() AS snoozed
    FROM alerts_rule WHERE NOT muted AND {where}
), latest AS MATERIALIZED (
    SELECT pair.kpi_key, pair.grain, (
        SELECT max(v.period_start) FROM kpis_value v
        WHERE v.kpi = pair.kpi_key AND v.grain = pair.grain
    ) AS period_start
    FROM (SELECT DISTINCT kpi_key, grain FROM rules) pair
)
SELECT r.id, r.kpi_key, r.grain, r.condition, r.threshold, r.firing, r.snoozed,
       cur.period_start, cur.period_end, cur.value, prev.value, goal.target
FROM rules r
JOIN latest l ON l.kpi_key = r.kpi_key AND l.grain = r.grain
LEFT JOIN LATERAL (
    SELECT v.period_start, v.period_end, v.value FROM kpis_value v
    WHERE v.kpi = r.kpi_key AND v.grain = r.grain AND v.period_start = l.period_start
      AND v.segment_kind = r.segment_kind AND v.segment = r.segment_value
) cur ON true
LEFT JOIN LATERAL (
    SELECT p.value FROM kpis_value p
    WHERE r.condition IN ('change_percent', 'change_points')
      AND p.kpi = r.kpi_key AND p.grain = r.grain
      AND p.period_start = (l.period_start - CASE r.grain
          WHEN 'day' THEN interval '1 day' WHEN 'week' THEN interval '7 days'
          WHEN 'month' THEN interval '1 month' WHEN 'quarter' THEN interval '3 months'
          ELSE interval '1 year' END)::date
      AND p.segment_kind = r.segment_kind AND p.segment = r.segment_value
) prev ON true
LEFT JOIN LATERAL (
    SELECT g.target FROM goals_goal g
    WHERE r.condition = 'behind_goal' AND g.kpi_key = r.kpi_key AND g.grain = r.grain
      AND g.segment_kind = r.segment_kind AND g.segment_value = r.segment_value
      AND (g.period_start = l.period_start OR g.period_start IS NULL)
    ORDER BY g.period_start NULLS LAST LIMIT 1
) goal ON true
"""

# Flip the state only where it is still the old one, so two evaluations at once cannot both
# fire the same rule.
_FLIP = (
    "UPDATE alerts_rule SET firing = %s, changed_at = %s "
    "WHERE id = ANY(%s) AND firing = %s RETURNING id"
)


@receiver(kpi_values_stored)
def evaluate_after_recompute(sender, keys: list[str], **kwargs) -> None:
    evaluate(kpi_keys=keys)


def evaluate(kpi_keys: Iterable[str] | None = None, rule_ids: Iterable[int] | None = None) -> int:
    """Evaluate the rules of ``kpi_keys`` (or the rules ``rule_ids``) in the current company;
    return how many events were recorded."""
    if kpi_keys is not None:
        where, param = "kpi_key = ANY(%s)", list(kpi_keys)
    else:
        where, param = "id = ANY(%s)", list(rule_ids or [])
    if not param:
        return 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_OBSERVE.format(where=where), [param])
            rows = cursor.fetchall()
        if not rows:
            return 0
        kpis = registered_kpis()
        starting, stopping = [], []
        for rule_id, key, _grain, condition, threshold, firing, snoozed, *seen in rows:
            _start, _end, value, previous, target = seen
            observed = conditions.Observation(value, previous, target)
            now_holds = conditions.holds(condition, threshold, kpis.get(key), observed)
            if now_holds is None or now_holds == firing:
                continue
            (starting if now_holds else stopping).append((rule_id, snoozed, seen))
        if not starting and not stopping:
            return 0
        return _record(starting, stopping, kpis)


def _record(starting: list, stopping: list, kpis: dict[str, KPI]) -> int:
    now = timezone.now()
    flipped = set()
    with connection.cursor() as cursor:
        for new_state, batch in ((True, starting), (False, stopping)):
            if batch:
                cursor.execute(_FLIP, [new_state, now, [b[0] for b in batch], not new_state])
                flipped |= {row[0] for row in cursor.fetchall()}
    rules = Rule.objects.in_bulk([rule_id for rule_id in flipped])
    events = []
    for kind, batch in ((Event.Kind.FIRED, starting), (Event.Kind.RESOLVED, stopping)):
        for rule_id, snoozed, seen in batch:
            if rule_id in flipped:
                events.append(_event(rules[rule_id], kind, snoozed, seen, kpis, now))
    Event.objects.bulk_create(events)
    _queue_deliveries([event for event in events if not event.silenced])
    return len(events)


def _event(rule: Rule, kind: str, snoozed: bool, seen: tuple, kpis: dict, now) -> Event:
    period_start, period_end, value, previous, target = seen
    kpi = kpis.get(rule.kpi_key)
    label = kpi.name if kpi else rule.kpi_key
    period = Period(Grain(rule.grain), period_start, period_end).label
    where = f" ({rule.segment_kind} {rule.segment_value})" if rule.segment_kind else ""
    condition = conditions.describe(rule.condition, rule.threshold, kpi)
    value_text = conditions.shown(value, kpi)
    if kind == Event.Kind.FIRED:
        subject = f"{rule.name}: {label}{where} {condition}"
        body = f"{label}{where} is {value_text} for {period}: it {condition}."
    else:
        subject = f"Resolved: {rule.name}"
        body = f"{label}{where} is {value_text} for {period}: it no longer {condition}."
    if previous is not None:
        body += f"\nThe period before: {conditions.shown(previous, kpi)}."
    if target is not None:
        body += f"\nGoal: {conditions.shown(target, kpi)}."
    return Event(
        rule=rule,
        kind=kind,
        period_start=period_start,
        period_end=period_end,
        value=value,
        previous_value=previous,
        target=target,
        subject=subject[:300],
        body=body,
        silenced=snoozed,
        created_at=now,
    )


def _queue_deliveries(events: list[Event]) -> None:
    if not events:
        return
    by_rule: dict[int, list] = {}
    through = Rule.channels.through.objects.filter(rule_id__in={e.rule_id for e in events})
    for link in through.select_related("channel"):
        by_rule.setdefault(link.rule_id, []).append(link.channel)
    deliveries = [
        Delivery(event=event, channel=channel, channel_name=channel.name)
        for event in events
        for channel in by_rule.get(event.rule_id, [])
    ]
    Delivery.objects.bulk_create(deliveries)
    ids = [delivery.id for delivery in deliveries]
    transaction.on_commit(lambda: _send_tasks(ids))


def _send_tasks(delivery_ids: list[int]) -> None:
    from kpiplatform.alerts.tasks import deliver_notification

    for delivery_id in delivery_ids:
        deliver_notification.delay(delivery_id, 1)


def link_for(rule: Rule) -> str:
    tenant = getattr(connection, "tenant", None)
    slug = getattr(tenant, "slug", None)
    return company_url(slug, f"/kpis/{rule.kpi_key}/?grain={rule.grain}") if slug else ""
