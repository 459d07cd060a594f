"""Writer benchmark: BulkWriter.upsert against a plain COPY of the same rows.

    python -m bench.writer [--rows N]   (on the benchmark database, see bench/database.py)

Generates the payments once, in memory and outside the timings (``--rows``, default
2,000,000 over 36 months for ~100k customers), then times:

(a) plain psycopg COPY into an empty copy of ``data_payments`` (same columns and indexes),
(b) ``BulkWriter.upsert`` of the same rows into the empty real table,
(c) the same upsert again: every row unchanged (skip with ``--no-rewrite``).

Prints seconds, rows/s and the ratio of rows/s to plain COPY. Target: (b) >= 0.40.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time

from bench.database import setup_django

BENCH_SLUG = "writerbench"
COPY_TABLE = "bench_payments_copy"


def _setup() -> None:
    setup_django()


def _bench_company():
    from kpiplatform.tenants import provisioning
    from kpiplatform.tenants.models import Company

    company = Company.objects.filter(slug=BENCH_SLUG).first()
    if company is None:
        company, _ = provisioning.create_company(
            provisioning.SignupRequest(
                company_name="Writer Bench",
                slug=BENCH_SLUG,
                admin_email=f"admin@{BENCH_SLUG}.test",
                admin_password="bench-only-password-8c1f2e",
            )
        )
    return company


def generate_payments(count: int, customers: int = 100_000, months: int = 36) -> list[dict]:
    """Payments as a connector hands them to the writer: dicts in column order."""
    rng = random.Random(42)
    start = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
    span_s = months * 30 * 86_400
    refs = [f"cus_{i:06d}" for i in range(customers)]
    currencies = ("USD", "USD", "USD", "EUR", "GBP")
    rows = []
    for i in range(count):
        refund = rng.random() < 0.03
        rows.append(
            {
                "external_id": f"py_{i:09d}",
                "customer_ref": refs[rng.randrange(customers)],
                "kind": "refund" if refund else "charge",
                "status": "succeeded",
                "occurred_at": start + dt.timedelta(seconds=rng.randrange(span_s)),
                "amount_minor": rng.randrange(500, 50_000),
                "tax_minor": 0,
                "discount_minor": 0,
                "currency": currencies[i % 5],
                "is_order": False,
                "invoice_ref": f"in_{i:09d}",
                "order_ref": "",
            }
        )
    return rows


def _checkpoint(cursor) -> None:
    # Start each timing with no dirty pages from the previous one.
    cursor.execute("CHECKPOINT")


def time_plain_copy(rows: list[dict]) -> float:
    from django.db import connection, transaction

    names = list(rows[0])
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        cursor.execute(f"DROP TABLE IF EXISTS {COPY_TABLE}")
        cursor.execute(f"CREATE TABLE {COPY_TABLE} (LIKE data_payments INCLUDING ALL)")
        cursor.execute(
            f"ALTER TABLE {COPY_TABLE} ALTER source SET DEFAULT 'bench', "
            "ALTER updated_at SET DEFAULT now()"
        )
        _checkpoint(cursor)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        with cursor.copy(f"COPY {COPY_TABLE} ({', '.join(names)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row.values())
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {COPY_TABLE}")
        assert cursor.fetchone()[0] == len(rows)
        cursor.execute(f"DROP TABLE {COPY_TABLE}")
    return elapsed


def time_writer(rows: list[dict], page_size: int, empty_first: bool) -> tuple[float, object]:
    from django.db import connection

    from kpiplatform.data.writer import BulkWriter

    with connection.cursor() as cursor:
        if empty_first:
            cursor.execute("TRUNCATE data_payments")
        _checkpoint(cursor)
    writer = BulkWriter("bench", page_size=page_size)
    started = time.perf_counter()
    writer.upsert("payments", rows)
    return time.perf_counter() - started, writer.counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--page-size", type=int, default=10_000)
    parser.add_argument("--no-rewrite", action="store_true", help="skip (c), the re-upsert")
    args = parser.parse_args()

    _setup()
    from django_tenants.utils import schema_context

    company = _bench_company()
    print(f"Generating {args.rows:,} payments ...", flush=True)
    rows = generate_payments(args.rows)

    results: list[tuple[str, float]] = []
    with schema_context(company.schema_name):
        results.append(("(a) plain COPY", time_plain_copy(rows)))
        elapsed, counts = time_writer(rows, args.page_size, empty_first=True)
        assert counts.inserted == len(rows), counts
        results.append((f"(b) BulkWriter.upsert, pages of {args.page_size:,}", elapsed))
        if not args.no_rewrite:
            elapsed, counts = time_writer(rows, args.page_size, empty_first=False)
            assert counts.unchanged == len(rows), counts
            results.append(("(c) re-upsert, all unchanged", elapsed))
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE data_payments")

    baseline = len(rows) / results[0][1]
    print(f"\n{args.rows:,} payments\n")
    print(f"| {'method':<40} | {'seconds':>8} | {'rows/s':>10} | {'vs COPY':>7} |")
    print(f"|{'-' * 42}|{'-' * 9}:|{'-' * 11}:|{'-' * 8}:|")
    for method, seconds in results:
        rate = len(rows) / seconds
        print(f"| {method:<40} | {seconds:>8.2f} | {rate:>10,.0f} | {rate / baseline:>7.2f} |")


if __name__ == "__main__":
    main()
