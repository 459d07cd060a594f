"""Disconnect benchmark: deleting what a large source brought, as the background task does.

    python -m bench.disconnect [--customers 50000] [--payments 200000] [--segments 150000]
                               [--source-objects 250000] [--repeat 1]
                               (on the benchmark database, see bench/database.py)

Writes, outside the timings, a Stripe-sized source through ``BulkWriter`` (customers, one
subscription each, MRR segments, payments) and its source objects, plus another source's
payments beside it, under a connection; then times, each on freshly written data:

(a) the single transaction the request used to run: ``BulkWriter.purge`` of every dataset,
    whole, then the connection's deletion through the ORM's cascade (the baseline);
(b) ``disconnect.remove``, the body of the ``remove_connection`` task: batches of
    ``PURGE_BATCH`` rows, each committed with its progress, then the source objects in
    batches and the connection;
(c) a disconnect keeping the data as the request used to run it (the ORM's cascade through
    the source objects) and (d) as it runs now (``disconnect_keeping_data``).

The writer's change recording (the pending changes the recompute reads) is part of (a) and
(b). Prints seconds, rows per second, the purge batches of (b) and the longest of them, and
checks that nothing of the source is left and the other source's payments are all there.
The KPI recompute the purge triggers runs afterwards, on a worker; it is not timed here
(``bench.kpis`` times recomputes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time

from bench.database import setup_django
from bench.writer import generate_payments

BENCH_SLUG = "disconnectbench"
SOURCE = "benchsource"  # the connection's connector key, so its records' source
OTHER_SOURCE = "import"


def _bench_company():
    from kpiplatform.tenants import provisioning
    from kpiplatform.tenants.models import Company

    company = Company.objects.filter(slug=BENCH_SLUG).first()
    if company is None:
        company, _ = provisioning.create_company(
            provisioning.SignupRequest(
                company_name="Disconnect Bench",
                slug=BENCH_SLUG,
                admin_email=f"admin@{BENCH_SLUG}.test",
                admin_password="bench-only-password-3e7a91",
            )
        )
    return company


def generate(customers: int, payments: int, segments: int) -> dict[str, list[dict]]:
    """A source's records, as a connector hands them to the writer."""
    rng = random.Random(7)
    start = dt.date(2023, 1, 1)
    ids = [f"cus_{i:06d}" for i in range(customers)]
    records: dict[str, list[dict]] = {
        "customers": [
            {
                "external_id": ref,
                "name": f"Customer {i}",
                "country": "FR",
                "created_at": dt.datetime(2023, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=i),
            }
            for i, ref in enumerate(ids)
        ],
        "subscriptions": [
            {
                "external_id": f"sub_{i:06d}",
                "customer_ref": ref,
                "status": "active",
                "started_at": dt.datetime(2023, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=i),
            }
            for i, ref in enumerate(ids)
        ],
        "mrr_segments": [],
        "payments": generate_payments(payments, customers=customers),
    }
    for n in range(segments):
        first = start + dt.timedelta(days=rng.randrange(900))
        records["mrr_segments"].append(
            {
                "external_id": f"seg_{n:07d}",
                "customer_ref": ids[n % customers],
                "subscription_ref": f"sub_{n % customers:06d}",
                "starts_on": first,
                "ends_on": first + dt.timedelta(days=rng.randrange(30, 200)),
                "mrr_minor": rng.randrange(1_000, 50_000),
                "currency": "EUR",
            }
        )
    return records


def write_source(records: dict[str, list[dict]], objects: int) -> int:
    """Write the source, its connection and source objects, and another source's payments;
    return the connection's id."""
    from django.db import connection

    from kpiplatform.connectors import source_objects
    from kpiplatform.connectors.models import Connection
    from kpiplatform.data.writer import BulkWriter
    from kpiplatform.sdk import SourceObject

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE data_customers, data_subscriptions, data_mrr_segments")
        cursor.execute("TRUNCATE data_payments, kpis_pending_change")
    Connection.objects.all().delete()
    created = Connection.objects.create(connector=SOURCE, name="Bench", schedule_minutes=0)
    writer = BulkWriter(SOURCE)
    for dataset, rows in records.items():
        writer.upsert(dataset, rows)
    BulkWriter(OTHER_SOURCE).upsert("payments", generate_payments(10_000, customers=1_000))
    payload = {"object": "invoice", "lines": [{"amount": 1200, "currency": "eur"}] * 3}
    for start in range(0, objects, 2_000):
        page = [
            SourceObject(f"in_{n:07d}", {**payload, "id": f"in_{n:07d}"}, f"sub_{n % 5000:06d}")
            for n in range(start, min(start + 2_000, objects))
        ]
        source_objects.store(created.pk, {"invoices": page})
    with connection.cursor() as cursor:
        # As autovacuum would have, long before a disconnect.
        cursor.execute(
            "VACUUM ANALYZE data_customers, data_subscriptions, data_mrr_segments, "
            "data_payments, connectors_sourceobject"
        )
        cursor.execute("CHECKPOINT")  # each timing starts with no dirty pages of the writes
    return created.pk


def left_of_the_source() -> int:
    from kpiplatform.connectors.models import SourceObject
    from kpiplatform.data.models import DATASETS

    return sum(m.objects.filter(source=SOURCE).count() for m in DATASETS.values()) + (
        SourceObject.objects.count()
    )


def time_single_transaction(connection_id: int) -> float:
    """(a) What the request used to do: every dataset purged whole, in one transaction."""
    from django.db import transaction

    from kpiplatform.connectors.models import Connection
    from kpiplatform.data.models import DATASETS
    from kpiplatform.data.writer import BulkWriter

    started = time.perf_counter()
    with transaction.atomic():
        writer = BulkWriter(SOURCE)
        for dataset in DATASETS:
            writer.purge(dataset)
        Connection.objects.filter(pk=connection_id).delete()
    return time.perf_counter() - started


def time_task(connection_id: int) -> tuple[float, list[float]]:
    """(b) The task's body; also the time of each batch's purge (its transaction's work)."""
    from kpiplatform.connectors import disconnect
    from kpiplatform.connectors.models import Disconnection
    from kpiplatform.data.models import DATASETS
    from kpiplatform.data.writer import BulkWriter

    Disconnection.objects.create(connection_id=connection_id, datasets_total=len(DATASETS))
    batches: list[float] = []
    purge = BulkWriter.purge

    def timed_purge(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return purge(self, *args, **kwargs)
        finally:
            batches.append(time.perf_counter() - started)

    BulkWriter.purge = timed_purge
    try:
        started = time.perf_counter()
        step = disconnect.remove(connection_id)
        elapsed = time.perf_counter() - started
    finally:
        BulkWriter.purge = purge
    assert step.said.startswith("done: "), step
    return elapsed, batches


def time_keeping_data(connection_id: int, *, as_before: bool) -> float:
    """(c) or (d): the connection goes, its records stay."""
    from kpiplatform.connectors import disconnect
    from kpiplatform.connectors.models import Connection

    started = time.perf_counter()
    if as_before:
        from django.db import transaction

        with transaction.atomic():
            Connection.objects.filter(pk=connection_id).delete()
    else:
        disconnect.disconnect_keeping_data(Connection.objects.get(pk=connection_id))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--payments", type=int, default=200_000)
    parser.add_argument("--segments", type=int, default=150_000)
    parser.add_argument("--source-objects", type=int, default=250_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each, median reported")
    args = parser.parse_args()

    setup_django()
    from django.db import connection
    from django_tenants.utils import schema_context

    from kpiplatform.connectors import disconnect
    from kpiplatform.connectors.models import SourceObject
    from kpiplatform.data.models import Payment

    company = _bench_company()
    print("Generating the records ...", flush=True)
    records = generate(args.customers, args.payments, args.segments)
    rows = sum(len(r) for r in records.values())
    total = rows + args.source_objects
    timings: dict[str, list[float]] = {key: [] for key in "abcd"}
    longest: list[float] = []
    purging: list[float] = []
    purges = 0
    with schema_context(company.schema_name):
        for run in range(1, args.repeat + 1):
            print(f"Run {run} of {args.repeat}: (a) ...", flush=True)
            timings["a"].append(time_single_transaction(write_source(records, args.source_objects)))
            assert left_of_the_source() == 0
            print(f"Run {run} of {args.repeat}: (b) ...", flush=True)
            elapsed, batches = time_task(write_source(records, args.source_objects))
            timings["b"].append(elapsed)
            longest.append(max(batches))
            purging.append(sum(batches))
            purges = len(batches)
            assert left_of_the_source() == 0
            assert Payment.objects.filter(source=OTHER_SOURCE).count() == 10_000
            print(f"Run {run} of {args.repeat}: (c) and (d) ...", flush=True)
            for key, as_before in (("c", True), ("d", False)):
                pk = write_source({}, args.source_objects)
                timings[key].append(time_keeping_data(pk, as_before=as_before))
                assert not SourceObject.objects.exists()
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE data_payments, kpis_pending_change")

    a, b, c, d = (statistics.median(timings[key]) for key in "abcd")
    print(
        f"\n{rows:,} records ({', '.join(f'{len(r):,} {d}' for d, r in records.items())}) "
        f"and {args.source_objects:,} source objects; median of {args.repeat}\n"
    )
    print(f"| {'method':<62} | {'seconds':>8} | {'rows/s':>9} | {'longest':>8} |")
    print(f"|{'-' * 64}|{'-' * 9}:|{'-' * 10}:|{'-' * 9}:|")
    table = [
        ("(a) delete the data: one transaction (the request before)", a, total, ""),
        (
            f"(b) delete the data: remove_connection, {purges} purges of <= "
            f"{disconnect.PURGE_BATCH:,}",
            b,
            total,
            f"{statistics.median(longest):.2f} s",
        ),
        ("(c) keep the data: the ORM's cascade (the request before)", c, args.source_objects, ""),
        ("(d) keep the data: disconnect_keeping_data", d, args.source_objects, ""),
    ]
    for label, seconds, count, extra in table:
        print(f"| {label:<62} | {seconds:>8.2f} | {count / seconds:>9,.0f} | {extra:>8} |")
    print(f"\n(b) / (a): {b / a:.2f}; the purges took {statistics.median(purging):.2f} s of (b)")


if __name__ == "__main__":
    main()
