"""KPI engine benchmark: ``python -m bench.kpis [--customers N]``.

Generates a company with N customers (default 100k), about 1.5 MRR segments each over 36
months (some in USD/GBP with monthly exchange rates) and some payments, then measures:

- the MRR movements ledger built by the engine, against the floor of one hand-written SQL
  query computing the same movements, and a vectorised pandas computation (fetch included);
- a full recompute of every KPI at every grain;
- the recompute after one new day of data.

Run against a database of its own: ``DATABASE_URL=postgres://.../kpi_kpi_bench``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from collections.abc import Callable

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kpiplatform.settings")

import django

django.setup()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from kpiplatform.kpis import engine, ledger, recompute  # noqa: E402
from kpiplatform.kpis.registry import registered_kpis  # noqa: E402
from kpiplatform.sdk import DatasetChanges  # noqa: E402
from kpiplatform.tenants import provisioning  # noqa: E402
from kpiplatform.tenants.models import Company  # noqa: E402

SLUG = "kpibench"
MONTHS = 36
COUNTRIES = ["US", "FR", "DE", "GB", "ES", "IT", "NL", "CA", "AU", "JP", "BR", "SE"]
CHANNELS = ["organic", "paid_search", "social", "referral", "partner", "direct"]
TARGET_LEDGER_RATIO = 1.5


def ensure_company() -> Company:
    call_command("migrate_schemas", "--shared", verbosity=0)
    company = Company.objects.filter(slug=SLUG).first()
    if company is None:
        company, _ = provisioning.create_company(
            provisioning.SignupRequest(
                company_name="KPI bench",
                slug=SLUG,
                admin_email=f"admin@{SLUG}.test",
                admin_password="bench-password-not-secret-42",
            )
        )
    return company


def generate(customers: int, today: dt.date, seed: int = 7) -> int:
    """Replace the company's data with a generated history ending ``today``."""
    rng = np.random.default_rng(seed)
    first_day = today - dt.timedelta(days=MONTHS * 30)
    span = (today - first_day).days
    old = timezone.now() - dt.timedelta(days=1)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE data_customers, data_mrr_segments, data_payments, data_exchange_rates, "
            "kpis_mrr_movement, kpis_value, kpis_data_warning, kpis_ledger_state, "
            "kpis_pending_change, kpis_computation"
        )
        cursor.execute(
            "INSERT INTO kpis_companysettings (id, reporting_currency, time_zone, gross_margin, "
            "updated_at) VALUES (1, 'EUR', 'Europe/Paris', 0.8, now()) ON CONFLICT (id) DO "
            "UPDATE SET reporting_currency = 'EUR', time_zone = 'Europe/Paris'"
        )
        country = rng.integers(0, len(COUNTRIES), customers)
        channel = rng.integers(0, len(CHANNELS), customers)
        with cursor.cursor.copy(
            "COPY data_customers (source, external_id, updated_at, name, email, country, "
            "channel, campaign) FROM STDIN"
        ) as copy:
            for i in range(customers):
                copy.write_row(
                    (
                        "import",
                        f"c{i}",
                        old,
                        "",
                        "",
                        COUNTRIES[country[i]],
                        CHANNELS[channel[i]],
                        "",
                    )
                )
        # First segment per customer; half the customers get a second one (an upgrade or a
        # downgrade right after, or a return after a gap).
        start = rng.integers(0, span, customers)
        mrr = rng.choice([1900, 4900, 9900, 19900, 49900], customers)
        length = rng.integers(30, 900, customers)
        currency = rng.choice(["EUR", "EUR", "EUR", "EUR", "EUR", "EUR", "USD", "GBP"], customers)
        rows = []
        for i in range(customers):
            s = first_day + dt.timedelta(days=int(start[i]))
            e = s + dt.timedelta(days=int(length[i]))
            second = rng.random() < 0.65
            end = e if e <= today or second else None
            rows.append((f"c{i}", f"s{i}a", s, end, int(mrr[i]), currency[i]))
            if second:
                gap = int(rng.integers(0, 3)) * int(rng.integers(10, 120))
                s2 = e + dt.timedelta(days=gap)
                if s2 < today:
                    factor = rng.choice([0.5, 2.0, 1.5])
                    rows.append((f"c{i}", f"s{i}b", s2, None, int(mrr[i] * factor), currency[i]))
        with cursor.cursor.copy(
            "COPY data_mrr_segments (source, external_id, updated_at, customer_ref, "
            "subscription_ref, plan_ref, starts_on, ends_on, mrr_minor, currency) FROM STDIN"
        ) as copy:
            for customer, ext, s, e, amount, cur in rows:
                copy.write_row(("import", ext, old, customer, ext, f"p{amount}", s, e, amount, cur))
        with cursor.cursor.copy(
            "COPY data_exchange_rates (source, external_id, updated_at, day, currency, rate) "
            "FROM STDIN"
        ) as copy:
            for month in range(MONTHS + 2):
                day = first_day + dt.timedelta(days=30 * month - 30)
                for cur, base in (("USD", 0.9), ("GBP", 1.15)):
                    rate = round(base + 0.05 * np.sin(month / 3), 6)
                    copy.write_row(("import", f"{cur}{month}", old, day, cur, rate))
        # A first payment for a fifth of the customers, a few days before their MRR starts.
        payers = rng.choice(customers, customers // 5, replace=False)
        with cursor.cursor.copy(
            "COPY data_payments (source, external_id, updated_at, customer_ref, kind, status, "
            "occurred_at, amount_minor, tax_minor, discount_minor, currency, is_order, "
            "invoice_ref, order_ref) FROM STDIN"
        ) as copy:
            for i in payers:
                at = dt.datetime.combine(
                    first_day + dt.timedelta(days=int(max(start[i] - 3, 0))),
                    dt.time(12),
                    tzinfo=dt.UTC,
                )
                copy.write_row(
                    ("import", f"pay{i}", old, f"c{i}", "charge", "succeeded", at, 9900, 0, 0,
                     "EUR", False, "", "")
                )  # fmt: skip
        cursor.execute("ANALYZE")
    return len(rows)


HAND_SQL = """
CREATE TEMPORARY TABLE hand_movements AS
WITH seg AS (
    SELECT s.source, s.customer_ref, s.starts_on, s.ends_on,
           CASE WHEN s.currency = 'EUR' THEN s.mrr_minor / 100.0
                ELSE s.mrr_minor / 100.0 * r.rate END AS mrr
    FROM data_mrr_segments s
    LEFT JOIN LATERAL (
        SELECT rate FROM data_exchange_rates x
        WHERE x.currency = s.currency AND x.day <= s.starts_on AND x.deleted_at IS NULL
        ORDER BY x.day DESC LIMIT 1
    ) r ON s.currency <> 'EUR'
    WHERE s.deleted_at IS NULL AND s.mrr_minor <> 0
),
daily AS (
    SELECT source, customer_ref, day, sum(delta) AS delta
    FROM (SELECT source, customer_ref, starts_on AS day, mrr AS delta FROM seg
          WHERE mrr IS NOT NULL
          UNION ALL
          SELECT source, customer_ref, ends_on, -mrr FROM seg
          WHERE mrr IS NOT NULL AND ends_on IS NOT NULL) b
    GROUP BY 1, 2, 3 HAVING sum(delta) <> 0
)
SELECT source, customer_ref, day, delta AS amount,
       sum(delta) OVER w - delta AS mrr_before, sum(delta) OVER w AS mrr_after,
       CASE WHEN sum(delta) OVER w = delta AND row_number() OVER w = 1 THEN 'new'
            WHEN sum(delta) OVER w = delta THEN 'reactivation'
            WHEN sum(delta) OVER w = 0 THEN 'churn'
            WHEN delta > 0 THEN 'expansion' ELSE 'contraction' END AS kind
FROM daily
WINDOW w AS (PARTITION BY source, customer_ref ORDER BY day)
"""


def hand_sql_movements() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS hand_movements")
        cursor.execute(HAND_SQL)
        cursor.execute("SELECT kind, count(*), sum(amount) FROM hand_movements GROUP BY kind")
        return {kind: (n, round(float(total), 2)) for kind, n, total in cursor.fetchall()}


def pandas_movements() -> dict:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT source, customer_ref, starts_on, ends_on, mrr_minor, currency "
            "FROM data_mrr_segments WHERE deleted_at IS NULL AND mrr_minor <> 0"
        )
        seg = pd.DataFrame(
            cursor.fetchall(),
            columns=["source", "customer", "starts_on", "ends_on", "mrr_minor", "currency"],
        )
        cursor.execute(
            "SELECT currency, day, rate FROM data_exchange_rates WHERE deleted_at IS NULL"
        )
        rates = pd.DataFrame(cursor.fetchall(), columns=["currency", "day", "rate"])
    seg["starts_on"] = pd.to_datetime(seg["starts_on"])
    seg["ends_on"] = pd.to_datetime(seg["ends_on"])
    rates["day"] = pd.to_datetime(rates["day"])
    rates["rate"] = rates["rate"].astype(float)
    seg = seg.sort_values("starts_on")
    seg = pd.merge_asof(
        seg, rates.sort_values("day"), left_on="starts_on", right_on="day", by="currency"
    )
    seg["rate"] = np.where(seg["currency"] == "EUR", 1.0, seg["rate"])
    seg = seg[seg["rate"].notna()]
    # Cents, as integers where possible, so deltas cancel exactly.
    seg["mrr"] = (seg["mrr_minor"] * seg["rate"]).round(6)
    starts = seg[["source", "customer", "starts_on", "mrr"]].rename(columns={"starts_on": "day"})
    ends = seg.loc[seg["ends_on"].notna(), ["source", "customer", "ends_on", "mrr"]].rename(
        columns={"ends_on": "day"}
    )
    ends["mrr"] = -ends["mrr"]
    deltas = pd.concat([starts, ends]).groupby(["source", "customer", "day"], sort=True).sum()
    deltas = deltas[deltas["mrr"].round(6) != 0].reset_index()
    deltas["after"] = deltas.groupby(["source", "customer"])["mrr"].cumsum().round(6)
    deltas["before"] = (deltas["after"] - deltas["mrr"]).round(6)
    first = deltas.groupby(["source", "customer"]).cumcount() == 0
    kind = np.select(
        [
            (deltas["before"] == 0) & first,
            deltas["before"] == 0,
            deltas["after"] == 0,
            deltas["mrr"] > 0,
        ],
        ["new", "reactivation", "churn", "expansion"],
        "contraction",
    )
    deltas["kind"] = kind
    summary = deltas.groupby("kind")["mrr"].agg(["count", "sum"])
    return {k: (int(r["count"]), round(r["sum"] / 100, 2)) for k, r in summary.iterrows()}


def ledger_movements(context) -> dict:
    ledger.rebuild_all(context)
    with connection.cursor() as cursor:
        cursor.execute("SELECT kind, count(*), sum(amount) FROM kpis_mrr_movement GROUP BY kind")
        return {kind: (n, round(float(total), 2)) for kind, n, total in cursor.fetchall()}


def timed(function: Callable, repeat: int = 1):
    best, result = None, None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    return best, result


def add_one_day(today: dt.date, customers: int) -> DatasetChanges:
    """One day of new data: new customers and some churns, upgrades, as a sync would write."""
    now = timezone.now()
    new = max(customers // 1000, 1)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO data_mrr_segments (source, external_id, updated_at, customer_ref, "
            "subscription_ref, plan_ref, starts_on, ends_on, mrr_minor, currency) "
            "SELECT 'import', 'new' || g, %s, 'n' || g, 'new' || g, 'p4900', %s, NULL, 4900, "
            "'EUR' FROM generate_series(1, %s) g",
            [now, today, new],
        )
        cursor.execute(
            "UPDATE data_mrr_segments SET ends_on = %s, updated_at = %s WHERE id IN ("
            "SELECT id FROM data_mrr_segments WHERE ends_on IS NULL AND starts_on < %s "
            "ORDER BY id LIMIT %s)",
            [today, now, today, new],
        )
    changes = DatasetChanges()
    changes.add("mrr_segments", today, today)
    return changes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N for the movements")
    args = parser.parse_args()
    company = ensure_company()
    with schema_context(company.schema_name):
        context = engine.build_context()
        today = context.as_of
        started = time.perf_counter()
        segments = generate(args.customers, today)
        print(
            f"generated {args.customers} customers, {segments} MRR segments over {MONTHS} "
            f"months in {time.perf_counter() - started:.1f} s"
        )
        context = engine.build_context()
        t_ledger, by_ledger = timed(lambda: ledger_movements(context), args.repeat)
        t_hand, by_hand = timed(hand_sql_movements, args.repeat)
        t_pandas, by_pandas = timed(pandas_movements, args.repeat)
        counts = {kind: n for kind, (n, _) in by_ledger.items()}
        for name, other in (("hand SQL", by_hand), ("pandas", by_pandas)):
            if {kind: n for kind, (n, _) in other.items()} != counts:
                print(f"WARNING: {name} movements differ from the ledger:\n{other}\n{by_ledger}")
        movements = sum(n for n, _ in by_ledger.values())
        t_full, report = timed(lambda: engine.recompute_everything(engine.build_context()))
        assert not report.failed, report.failed
        values = report.values_stored
        changes = add_one_day(today, args.customers)
        recompute.record_changes(changes)
        t_day, day_report = timed(recompute.recompute_pending)
        assert not day_report.failed, day_report.failed
    floor = min(t_hand, t_pandas)
    kpis = len(registered_kpis())
    rows = [
        ("MRR movements: ledger build (engine)", t_ledger, t_ledger / floor, "<= 1.5x floor"),
        ("MRR movements: one hand-written SQL query", t_hand, t_hand / floor, ""),
        ("MRR movements: vectorised pandas (fetch incl.)", t_pandas, t_pandas / floor, ""),
        (f"full recompute: ledger + {kpis} KPIs x 5 grains", t_full, None, "< 60 s"),
        ("recompute after one new day of data", t_day, None, "< 2 s"),
    ]
    print(f"\n{movements} movements, {values} KPI values stored by the full recompute\n")
    print(f"| {'measure':<48} | {'seconds':>8} | {'x floor':>7} | target |")
    print(f"| {'-' * 48} | {'-' * 8} | {'-' * 7} | ------ |")
    for name, seconds, ratio, target in rows:
        ratio_text = f"{ratio:.2f}" if ratio is not None else ""
        print(f"| {name:<48} | {seconds:8.2f} | {ratio_text:>7} | {target} |")
    verdicts = [
        ("ledger", t_ledger <= TARGET_LEDGER_RATIO * floor),
        ("full recompute", t_full < 60),
        ("one-day recompute", t_day < 2),
    ]
    print("\n" + ", ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in verdicts))


if __name__ == "__main__":
    main()
