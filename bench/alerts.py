"""Alert evaluation benchmark: ``python -m bench.alerts [--customers N] [--rules N]``.

On a generated company (the generator of bench.kpis, 20k customers by default) with 1,000
alert rules over the KPIs that a day of new data recomputes (every condition, grains from
day to quarter, a fifth on a segment, goals for the behind-goal rules), measures:

- the recompute after one new day of data without alert evaluation (the receiver
  disconnected) and with it, taking turns, median of ``--repeat`` runs each;
- the evaluation alone (one SQL read for all rules), when no rule changes state;
- the evaluation when every rule that can be told changes state (events written; the rules
  have no channels, so no delivery task is sent).

Target: evaluating the rules adds less than 10 % to the recompute's time.
Works on the benchmark database (see bench/database.py), never the one in ``DATABASE_URL``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time
from decimal import Decimal

from bench.database import setup_django

setup_django()

from django.db import connection  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from bench.kpis import add_one_day, generate  # noqa: E402
from kpiplatform.alerts import evaluate  # noqa: E402
from kpiplatform.alerts.models import Event, Rule  # noqa: E402
from kpiplatform.goals.models import Goal  # noqa: E402
from kpiplatform.kpis import engine, recompute  # noqa: E402
from kpiplatform.kpis.signals import kpi_values_stored  # noqa: E402
from kpiplatform.sdk import DatasetChanges  # noqa: E402
from kpiplatform.tenants import provisioning  # noqa: E402
from kpiplatform.tenants.models import Company  # noqa: E402

SLUG = "alertbench"
GRAINS = ["day", "week", "month", "quarter"]
CONDITIONS = ["above", "below", "change_percent", "change_points", "behind_goal"]
TARGET_RATIO = 0.10


def ensure_company() -> Company:
    company = Company.objects.filter(slug=SLUG).first()
    if company is None:
        company, _ = provisioning.create_company(
            provisioning.SignupRequest(
                company_name="Alert bench",
                slug=SLUG,
                admin_email=f"admin@{SLUG}.test",
                admin_password="bench-password-not-secret-42",
            )
        )
    else:
        from django.core.management import call_command

        call_command(
            "migrate_schemas", schema_name=company.schema_name, interactive=False, verbosity=0
        )
    return company


def make_rules(keys: list[str], count: int) -> None:
    """``count`` rules over ``keys``, thresholds drawn around the stored values so that both
    states occur; goals for the behind-goal rules."""
    Rule.objects.all().delete()
    Goal.objects.all().delete()
    rng = random.Random(7)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT kpi, grain, segment_kind, segment, avg(abs(value)) FROM kpis_value "
            "WHERE kpi = ANY(%s) AND value IS NOT NULL GROUP BY 1, 2, 3, 4",
            [keys],
        )
        series = [row for row in cursor.fetchall() if row[1] in GRAINS]
    totals = [s for s in series if not s[2]]
    segmented = [s for s in series if s[2]]
    rules, goals = [], {}
    for n in range(count):
        pool = segmented if segmented and n % 5 == 0 else totals
        kpi, grain, kind, segment, typical = rng.choice(pool)
        condition = CONDITIONS[n % len(CONDITIONS)]
        typical = Decimal(typical or 1)
        threshold = {
            "above": typical * Decimal(rng.uniform(0.5, 1.5)),
            "below": typical * Decimal(rng.uniform(0.5, 1.5)),
            "change_percent": Decimal(rng.uniform(0, 20)),
            "change_points": typical * Decimal(rng.uniform(0, 0.1)),
            "behind_goal": None,
        }[condition]
        if condition == "behind_goal":
            goals[(kpi, grain, kind, segment)] = typical * Decimal(rng.uniform(0.5, 1.5))
        rules.append(
            Rule(
                name=f"bench {n}",
                kpi_key=kpi,
                grain=grain,
                segment_kind=kind,
                segment_value=segment,
                condition=condition,
                threshold=None if threshold is None else round(threshold, 6),
            )
        )
    Rule.objects.bulk_create(rules)
    Goal.objects.bulk_create(
        Goal(kpi_key=k, grain=g, segment_kind=sk, segment_value=s, target=round(t, 6))
        for (k, g, sk, s), t in goals.items()
    )


def _has_todays_data(today) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM data_mrr_segments WHERE starts_on = %s LIMIT 1", [today])
        return cursor.fetchone() is not None


def _one_day_changes(today) -> DatasetChanges:
    """The changes bench.kpis.add_one_day reports, for data it wrote already."""
    changes = DatasetChanges()
    for dataset in ("mrr_segments", "spend"):
        changes.add(dataset, today, today)
    for dataset in ("customers", "payments"):
        changes.add(dataset, today - dt.timedelta(days=1), today + dt.timedelta(days=1))
    return changes


def timed(function) -> tuple[float, object]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--rules", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the data of an earlier run of today (skips generating it again)",
    )
    args = parser.parse_args()
    company = ensure_company()
    with schema_context(company.schema_name):
        Event.objects.all().delete()
        today = engine.build_context().as_of
        started = time.perf_counter()
        kpi_values_stored.disconnect(evaluate.evaluate_after_recompute)
        if args.reuse and _has_todays_data(today):
            changes = _one_day_changes(today)
        else:
            generate(args.customers, today)
            engine.recompute_everything(engine.build_context())
            changes = add_one_day(today, args.customers)
        recompute.record_changes(changes)
        day = recompute.recompute_pending()
        keys = sorted(day.computed)
        print(
            f"generated and computed in {time.perf_counter() - started:.0f} s; one new day "
            f"recomputes {len(keys)} KPIs"
        )
        make_rules(keys, args.rules)
        evaluate.evaluate(kpi_keys=keys)  # the rules' first states
        without, with_rules = [], []
        for _ in range(args.repeat):
            for connected, bucket in ((False, without), (True, with_rules)):
                if connected:
                    kpi_values_stored.connect(evaluate.evaluate_after_recompute)
                else:
                    kpi_values_stored.disconnect(evaluate.evaluate_after_recompute)
                recompute.record_changes(changes)
                seconds, report = timed(recompute.recompute_pending)
                assert not report.failed, report.failed
                bucket.append(seconds)
        kpi_values_stored.connect(evaluate.evaluate_after_recompute)
        steady = [timed(lambda: evaluate.evaluate(kpi_keys=keys)) for _ in range(args.repeat)]
        assert all(events == 0 for _, events in steady), "the steady evaluation changed states"
        flips = []
        for _ in range(args.repeat):
            with connection.cursor() as cursor:
                cursor.execute("UPDATE alerts_rule SET firing = NOT firing")
            flips.append(timed(lambda: evaluate.evaluate(kpi_keys=keys)))
        rules = Rule.objects.count()
    t_without = statistics.median(without)
    t_with = statistics.median(with_rules)
    t_steady = statistics.median(s for s, _ in steady)
    t_flip = statistics.median(s for s, _ in flips)
    events = statistics.median(n for _, n in flips)
    added = t_with - t_without
    print(
        f"\n{rules} rules over {len(keys)} KPIs; {events:.0f} of them change state in the "
        f"flip run; median of {args.repeat} runs each\n"
    )
    rows = [
        ("recompute after one new day, no alert evaluation", t_without, 1.0, ""),
        (f"the same recompute, {rules} rules evaluated", t_with, t_with / t_without, "< 1.10"),
        ("evaluation alone, no state changes", t_steady, t_steady / t_without, "< 0.10"),
        (f"evaluation alone, {events:.0f} state changes", t_flip, t_flip / t_without, ""),
    ]
    met = {
        rows[1][0]: added / t_without < TARGET_RATIO,
        rows[2][0]: t_steady / t_without < TARGET_RATIO,
    }
    print(f"| {'measure':<52} | {'seconds':>8} | {'x recompute':>11} | {'target':<6} | met? |")
    print(f"| {'-' * 52} | {'-' * 8} | {'-' * 11} | {'-' * 6} | ---- |")
    for name, seconds, ratio, target in rows:
        verdict = ("yes" if met[name] else "NO") if name in met else ""
        print(f"| {name:<52} | {seconds:8.3f} | {ratio:11.3f} | {target:<6} | {verdict:<4} |")


if __name__ == "__main__":
    main()
