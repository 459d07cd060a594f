"""Tenant-aware Celery tasks: the schema travels with the task, all the way to a real worker."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context
from kombu import Exchange, Queue

from kpiplatform import embedded
from kpiplatform.accounts.models import Invitation, LoginHandover, hash_secret
from kpiplatform.accounts.tasks import purge_expired_credentials
from kpiplatform.celery import (
    CompanyTask,
    PlatformTask,
    PublicSchemaRefused,
    app,
    fan_out_tasks,
    registered_tasks,
)
from kpiplatform.tenants.tasks import tick
from kpiplatform.testing.processes import database_url_for_subprocess

ROOT = Path(__file__).resolve().parent.parent
REQUIRE_SERVICES = os.environ.get("KPI_REQUIRE_SERVICES") == "1"
WORKER_TIMEOUT = 60.0
# The file broker always runs (it needs no server); Redis runs wherever it is configured, as
# in CI, and must then be reachable. A machine with no Redis configured has nothing to skip.
BROKERS = ["filesystem"]
if REQUIRE_SERVICES or os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
    BROKERS.append("redis")


# --- helpers ---------------------------------------------------------------------------------
def redis_reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 6379), timeout=2):
            return True
    except OSError:
        return False


def broker_for(kind: str, tmp_path: Path) -> tuple[str, dict, dict[str, str | None]]:
    """Broker URL and options for this test process, and the env a worker needs to share it."""
    if kind == "filesystem":
        url, options = embedded.filesystem_broker(tmp_path / "broker")
        # The worker derives the same folders from KPI_VAR_DIR.
        return url, options, {"CELERY_BROKER_URL": None, "KPI_VAR_DIR": str(tmp_path)}
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith("redis://"):
        pytest.fail("KPI_REQUIRE_SERVICES=1 but CELERY_BROKER_URL is not a redis:// URL")
    if not redis_reachable(url):
        pytest.fail(f"Redis at {url} is unreachable")
    return url, {}, {"CELERY_BROKER_URL": url, "KPI_VAR_DIR": str(tmp_path)}


def start_worker(queue: str, broker_env: dict[str, str | None]) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url_for_subprocess(), "PYTHONUNBUFFERED": "1"}
    for key, value in broker_env.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    command = [sys.executable, "-m", "celery", "-A", "kpiplatform", "worker"]
    command += ["--pool=solo", "-Q", queue, "--loglevel=INFO", "--without-heartbeat"]
    command += ["--without-gossip", "--without-mingle", "-n", f"{queue}@%h"]
    return subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def stop_worker(worker: subprocess.Popen) -> str:
    if worker.poll() is None:
        worker.terminate()
    try:
        output, _ = worker.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        output, _ = worker.communicate()
    return output


def seed_expired_credentials(schema_name: str, user, marker: str) -> None:
    """One used hand-over, one expired hand-over, one expired unaccepted invitation."""
    past = timezone.now() - timedelta(days=1)
    with schema_context(schema_name):
        LoginHandover.objects.create(
            user=user, token_hash=hash_secret(f"{marker}-used"), expires_at=timezone.now()
            + timedelta(minutes=1), used_at=past,
        )  # fmt: skip
        LoginHandover.objects.create(
            user=user, token_hash=hash_secret(f"{marker}-expired"), expires_at=past
        )
        Invitation.objects.create(
            email=f"late-{marker}@example.com",
            token_hash=hash_secret(f"{marker}-invite"),
            invited_by=user,
            expires_at=past,
        )


def seed_live_credentials(schema_name: str, user, marker: str) -> None:
    """Rows the purge must keep: an unused hand-over in time, a pending and an accepted invite."""
    future = timezone.now() + timedelta(days=1)
    with schema_context(schema_name):
        LoginHandover.objects.create(
            user=user, token_hash=hash_secret(f"{marker}-live"), expires_at=future
        )
        Invitation.objects.create(
            email=f"pending-{marker}@example.com",
            token_hash=hash_secret(f"{marker}-pending"),
            expires_at=future,
        )
        Invitation.objects.create(
            email=f"joined-{marker}@example.com",
            token_hash=hash_secret(f"{marker}-joined"),
            expires_at=timezone.now() - timedelta(days=1),
            accepted_at=timezone.now() - timedelta(days=2),
        )


def credentials_left(schema_name: str, marker: str) -> dict[str, int]:
    with schema_context(schema_name):
        return {
            "handovers": LoginHandover.objects.filter(
                token_hash__in=[hash_secret(f"{marker}-{kind}") for kind in ("used", "expired")]
            ).count(),
            "live_handovers": LoginHandover.objects.filter(
                token_hash=hash_secret(f"{marker}-live")
            ).count(),
            "invitations": Invitation.objects.filter(
                token_hash=hash_secret(f"{marker}-invite")
            ).count(),
            "kept_invitations": Invitation.objects.filter(
                token_hash__in=[hash_secret(f"{marker}-{kind}") for kind in ("pending", "joined")]
            ).count(),
        }


def remove_seeded(schema_name: str, marker: str) -> None:
    hashes = [
        hash_secret(f"{marker}-{kind}")
        for kind in ("used", "expired", "invite", "live", "pending", "joined")
    ]
    with schema_context(schema_name):
        LoginHandover.objects.filter(token_hash__in=hashes).delete()
        Invitation.objects.filter(token_hash__in=hashes).delete()


# --- tests -----------------------------------------------------------------------------------
@pytest.mark.worker
@pytest.mark.parametrize("broker", BROKERS)
def test_task_enqueued_from_acme_runs_on_a_real_worker_and_purges_only_acme(
    broker, standing_companies, django_db_blocker, tmp_path
):
    acme, globex = standing_companies["acme"], standing_companies["globex"]
    url, options, worker_env = broker_for(broker, tmp_path)
    queue_name = f"test-{uuid.uuid4().hex[:12]}"
    queue = Queue(queue_name, Exchange(queue_name, type="direct"), routing_key=queue_name)
    marker = secrets.token_hex(6)
    with django_db_blocker.unblock():
        # Committed (autocommit, no test transaction): the worker is another process.
        seed_expired_credentials(acme.schema_name, acme.user("admin"), marker)
        seed_expired_credentials(globex.schema_name, globex.user("admin"), marker)
        seed_live_credentials(acme.schema_name, acme.user("admin"), marker)
        connection.set_schema_to_public()
        worker = start_worker(queue_name, worker_env)
        output = ""
        try:
            with app.connection_for_write(url, transport_options=options) as broker_connection:
                queue(broker_connection.default_channel).declare()
                with acme.activate():
                    purge_expired_credentials.apply_async(queue=queue, connection=broker_connection)
            deadline = time.monotonic() + WORKER_TIMEOUT
            while credentials_left(acme.schema_name, marker)["handovers"]:
                assert worker.poll() is None, "the worker died"
                assert time.monotonic() < deadline, "the worker did not run the task in time"
                time.sleep(0.2)
            acme_left = credentials_left(acme.schema_name, marker)
            globex_left = credentials_left(globex.schema_name, marker)
        finally:
            output = stop_worker(worker)
            remove_seeded(acme.schema_name, marker)
            remove_seeded(globex.schema_name, marker)
            connection.set_schema_to_public()
    assert acme_left == {"handovers": 0, "live_handovers": 1, "invitations": 0,
                         "kept_invitations": 2}, output  # fmt: skip
    assert globex_left == {"handovers": 2, "live_handovers": 0, "invitations": 1,
                           "kept_invitations": 0}, output  # fmt: skip
    assert "purge_expired_credentials" in output and "succeeded" in output


def test_tenant_task_called_in_public_schema_is_refused(acme):
    marker = secrets.token_hex(6)
    seed_expired_credentials(acme.schema_name, acme.user("admin"), marker)
    connection.set_schema_to_public()
    with pytest.raises(PublicSchemaRefused):
        purge_expired_credentials()
    with pytest.raises(PublicSchemaRefused):
        purge_expired_credentials.apply().get()
    assert credentials_left(acme.schema_name, marker)["handovers"] == 2


def test_tenant_task_called_in_a_company_schema_purges_that_company(acme, globex):
    marker = secrets.token_hex(6)
    seed_expired_credentials(acme.schema_name, acme.user("admin"), marker)
    seed_expired_credentials(globex.schema_name, globex.user("admin"), marker)
    with acme.activate():
        deleted = purge_expired_credentials.apply().get()
    assert deleted == {"handovers": 2, "invitations": 1}
    assert credentials_left(acme.schema_name, marker)["handovers"] == 0
    assert credentials_left(globex.schema_name, marker)["handovers"] == 2


def test_every_registered_task_is_a_company_or_a_platform_task():
    tasks = registered_tasks()
    assert "kpiplatform.accounts.tasks.purge_expired_credentials" in tasks
    assert "kpiplatform.tenants.tasks.tick" in tasks
    undeclared = [
        name for name, task in tasks.items() if not isinstance(task, CompanyTask | PlatformTask)
    ]
    assert undeclared == [], "declare them with @tenant_task or @platform_task"


def test_tick_fans_purge_out_to_every_active_company_on_the_hour(acme, globex, settings):
    settings.KPI_SIGNUP_POOL_SIZE = 0  # the tick also refills the pool: nothing to do here
    assert purge_expired_credentials in fan_out_tasks()
    marker = secrets.token_hex(6)
    seed_expired_credentials(acme.schema_name, acme.user("admin"), marker)
    seed_expired_credentials(globex.schema_name, globex.user("admin"), marker)
    connection.set_schema_to_public()
    app.conf.task_always_eager = True  # run the fanned-out tasks in this process
    try:
        assert tick.apply(kwargs={"minute": 60 * 1000 + 1}).get() == 0  # not on the hour
        assert credentials_left(acme.schema_name, marker)["handovers"] == 2
        sent = tick.apply(kwargs={"minute": 60 * 1000}).get()
    finally:
        app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER
    assert sent >= 2  # acme and globex (and any other active company)
    assert credentials_left(acme.schema_name, marker)["handovers"] == 0
    assert credentials_left(globex.schema_name, marker)["handovers"] == 0
    assert credentials_left(globex.schema_name, marker)["invitations"] == 0
