"""Signup provisioning benchmark: migrating vs cloning a template vs the warm pool.

Run ``python -m bench.signup`` (or ``make bench``). It works on its own database,
``<DATABASE_URL's database>_bench`` (or ``KPI_BENCH_DATABASE_URL``), created when missing,
so it never touches the companies of the development or test databases.

Each method provisions ``ROUNDS`` companies; the table shows the median and 90th percentile
per company and the speed-up against migrating, measured in the same run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from bench.database import setup_django

ROUNDS = 10
PASSWORD = "plum-orbit-canyon-77"


def clean() -> None:
    """Drop every company and spare a previous run left behind."""
    from django.db import connection

    from kpiplatform.tenants.models import Company

    connection.set_schema_to_public()
    for company in Company.objects.exclude(schema_name="public"):
        company.delete(force_drop=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench\\_%%' "
            "OR nspname LIKE 'spare\\_%%'"
        )
        for (schema,) in cursor.fetchall():
            cursor.execute(f'DROP SCHEMA "{schema}" CASCADE')


def timed(rounds: int, setup: Callable[[int], object], run: Callable[[object], None]) -> list:
    """Call ``run`` once untimed to warm up, then ``rounds`` times; ``setup`` is not timed."""
    run(setup(-1))
    samples = []
    for i in range(rounds):
        arg = setup(i)
        start = time.perf_counter()
        run(arg)
        samples.append(time.perf_counter() - start)
    return samples


def by_migrating(i: int) -> None:
    from kpiplatform.tenants.models import Company

    company = Company(schema_name=f"bench_migrate_{i + 1}", name="Bench", slug=f"bm-{i + 1}")
    company.save()
    return company


def by_cloning(template: str) -> Callable:
    from django_tenants.clone import CloneSchema

    cloner = CloneSchema()

    def run(i: int) -> None:
        cloner.clone_schema(template, f"bench_clone_{i + 1}", "DATA")

    return run


def from_pool(i: int) -> None:
    from django.db import transaction

    from kpiplatform.tenants import provisioning
    from kpiplatform.tenants.models import Company

    with transaction.atomic():
        company = provisioning.claim_spare(f"bench_pool_{i + 1}")
        company.name, company.slug, company.state = "Bench", f"bp-{i + 1}", Company.State.ACTIVE
        company.save()


def signup(slug: str) -> None:
    from kpiplatform.tenants import provisioning

    provisioning.create_company(
        provisioning.SignupRequest(
            company_name="Bench",
            slug=slug,
            admin_email=f"a@{slug}.example",
            admin_password=PASSWORD,
        )
    )


def row(label: str, samples: list[float], baseline: float) -> str:
    median = statistics.median(samples)
    p90 = statistics.quantiles(samples, n=10, method="inclusive")[-1]
    return f"| {label:<40} | {median:8.4f} | {p90:8.4f} | {baseline / median:8.1f}x |"


def main() -> None:
    setup_django()
    from django.db import connection

    from kpiplatform.tenants import provisioning

    clean()
    migrate = timed(ROUNDS, by_migrating, lambda company: company.create_schema(verbosity=0))
    with connection.cursor() as cursor:
        cursor.execute('SELECT count(*) FROM "bench_migrate_1".django_migrations')
        migrations = cursor.fetchone()[0]

    clone = timed(ROUNDS, lambda i: i, by_cloning("bench_migrate_1"))

    provisioning.fill_pool(ROUNDS + 1)  # filling is background work: not timed
    pool = timed(ROUNDS, lambda i: i, from_pool)

    provisioning.fill_pool(ROUNDS + 1)
    signup_pool = timed(ROUNDS, lambda i: f"bench-sp-{i + 1}", signup)
    clean()  # empty pool from here on
    signup_migrate = timed(ROUNDS, lambda i: f"bench-sm-{i + 1}", signup)
    clean()

    base = statistics.median(migrate)
    signup_base = statistics.median(signup_migrate)
    print(f"\nSignup provisioning, {migrations} migrations per schema, median of {ROUNDS}\n")
    print(f"| {'method':<40} | {'median s':>8} | {'p90 s':>8} | {'vs migr.':>9} |")
    print(f"|{'-' * 42}|{'-' * 10}|{'-' * 10}|{'-' * 11}|")
    print(row("migrating (create_schema)", migrate, base))
    print(row("cloning a template (clone_schema)", clone, base))
    print(row("warm pool (ALTER SCHEMA ... RENAME)", pool, base))
    print()
    print("Whole signup (validation, company, domain, admin user with password hashing):\n")
    print(f"| {'method':<40} | {'median s':>8} | {'p90 s':>8} | {'vs migr.':>9} |")
    print(f"|{'-' * 42}|{'-' * 10}|{'-' * 10}|{'-' * 11}|")
    print(row("signup, empty pool (migrating)", signup_migrate, signup_base))
    print(row("signup, from the warm pool", signup_pool, signup_base))
    pool_median = statistics.median(pool)
    ok = pool_median < 1 and base / pool_median >= 5
    print(f"\nTarget (pool < 1 s and >= 5x faster than migrating): {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
