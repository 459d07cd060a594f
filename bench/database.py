"""The database every benchmark works on: never the development or test database.

``<DATABASE_URL's database>_bench`` (or ``KPI_BENCH_DATABASE_URL``), created when missing;
with ``DATABASE_URL`` unset, a database of that name on the embedded server.
"""

from __future__ import annotations

import os


def bench_database_url() -> str:
    if "KPI_BENCH_DATABASE_URL" in os.environ:
        return os.environ["KPI_BENCH_DATABASE_URL"]
    from kpiplatform.embedded import use_embedded_database_if_unset

    use_embedded_database_if_unset()
    base = os.environ["DATABASE_URL"]
    prefix, name = base.rsplit("/", 1)
    return f"{prefix}/{name.split('?')[0]}_bench"


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    prefix, name = url.rsplit("/", 1)
    with psycopg.connect(f"{prefix}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def setup_django() -> None:
    url = bench_database_url()
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    # A second call (another benchmark module imported after this one) keeps this database.
    os.environ["KPI_BENCH_DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kpiplatform.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
