"""Helpers for tests that start other processes (a Celery worker, ``manage.py run``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url_for_subprocess() -> str:
    """``DATABASE_URL`` of the database this test process uses (pytest-django's test database).

    A worker or server started with it sees the rows a test committed.
    """
    db = connection.settings_dict
    host = db["HOST"] or "localhost"
    # A unix-socket folder goes in the path (postgres://user@//folder/name), as django-environ
    # reads it; a host name goes in the authority.
    host = "/" + quote(host) if host.startswith("/") else host
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    port = f":{db['PORT']}" if db["PORT"] and not host.startswith("/") else ""
    return f"postgres://{auth}@{host}{port}/{db['NAME']}"


@dataclass
class CeleryWorker:
    """A real Celery worker process started by a test; what it prints goes to ``log_path``."""

    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout_s: float = 20) -> str:
        """Stop the worker (warm shutdown, then a kill) and return what it printed."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.log()


def start_celery_worker(
    queue: str,
    log_path: Path,
    env: dict[str, str | None] | None = None,
    pool: str = "solo",
    concurrency: int = 1,
) -> CeleryWorker:
    """Start a real Celery worker on this test process's database, reading ``queue``, with
    ``env`` on top of this process's environment (None removes a variable). ``prefork``
    pools run each task in a child process, as in production (time limits, a child that
    dies); ``solo`` runs tasks in the worker itself."""
    full_env = {**os.environ, "DATABASE_URL": database_url_for_subprocess()}
    full_env["PYTHONUNBUFFERED"] = "1"
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    command = [sys.executable, "-m", "celery", "-A", "kpiplatform", "worker", f"--pool={pool}"]
    command += [f"--concurrency={concurrency}", "-Q", queue, "--loglevel=INFO"]
    command += ["--without-heartbeat", "--without-gossip", "--without-mingle", "-n", f"{queue}@%h"]
    # A file, not a pipe: a pipe nobody reads fills up and blocks the worker.
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603 (our own fixed command)
            command, env=full_env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    return CeleryWorker(process, log_path)


def child_pids(pid: int) -> list[int]:
    """The ids of the processes ``pid`` started (a prefork worker's pool processes)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(child) for child in (task / "children").read_text().split()]
    return children


def wait_until(condition, worker, what: str, timeout_s: float = 120):
    """Poll ``condition`` until it gives something true and return that; fail the test with
    the worker's log if the worker dies first or ``timeout_s`` pass (a loaded machine may
    take long to start one)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if not worker.alive():
            pytest.fail(f"the worker died waiting for {what}:\n{worker.log()}")
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}:\n{worker.log()}")
