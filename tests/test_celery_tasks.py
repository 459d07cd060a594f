"""Tenant-aware Celery tasks: the schema travels with the task, all the way to a real worker."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import signal
import socket
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
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
from kpiplatform.kpis import engine
from kpiplatform.kpis.models import PendingChange, RecomputeSchedule, StoredKPIValue
from kpiplatform.kpis.tasks import recompute_pending_changes
from kpiplatform.tenants import provisioning
from kpiplatform.tenants.tasks import tick
from kpiplatform.testing.companies import PASSWORD
from kpiplatform.testing.data import load_records
from kpiplatform.testing.kpis import WORKED_EXAMPLE_SEGMENTS, configure_company, mrr_segment
from kpiplatform.testing.processes import child_pids, start_celery_worker

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
        worker = start_celery_worker(queue_name, tmp_path / "worker.log", env=worker_env)
        output = ""
        try:
            with app.connection_for_write(url, transport_options=options) as broker_connection:
                queue(broker_connection.default_channel).declare()
                with acme.activate():
                    purge_expired_credentials.apply_async(queue=queue, connection=broker_connection)
            deadline = time.monotonic() + WORKER_TIMEOUT
            # The purge removes hand-overs and invitations one after the other: wait for
            # both, or the read below can fall between them.
            while any(
                credentials_left(acme.schema_name, marker)[kind]
                for kind in ("handovers", "invitations")
            ):
                assert worker.alive(), "the worker died"
                assert time.monotonic() < deadline, "the worker did not run the task in time"
                time.sleep(0.2)
            acme_left = credentials_left(acme.schema_name, marker)
            globex_left = credentials_left(globex.schema_name, marker)
        finally:
            output = worker.stop()
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


# --- recomputes on real workers ------------------------------------------------------------
# These use the broker this process is configured with (Redis in CI, files otherwise), a
# queue of the test's own (the code under test sends its tasks there, and the worker reads
# it) and companies made for the test, dropped afterwards.
STALL = "KPIPLATFORM_STALL"  # kpiplatform-stall (tests/fixtures/plugins): where its KPI waits


def messages_in(queue_name: str) -> int:
    with app.connection_for_write() as broker:
        return broker.default_channel.queue_declare(queue=queue_name, passive=True).message_count


@contextlib.contextmanager
def throwaway_company(django_db_blocker):
    """A company of the test's own, committed (a worker is another process), then dropped."""
    slug = f"w{uuid.uuid4().hex[:10]}"
    with django_db_blocker.unblock():
        company, _ = provisioning.create_company(
            provisioning.SignupRequest(slug.title(), slug, f"admin@{slug}.test", PASSWORD)
        )
        connection.set_schema_to_public()
        try:
            yield company
        finally:
            connection.set_schema_to_public()
            company.delete(force_drop=True)


def with_worked_example(company) -> None:
    """The worked example's customers and segments, with every KPI computed (in this
    process: the writes' recomputes run here)."""
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        with schema_context(company.schema_name):
            configure_company("EUR", "Europe/Paris")
            load_records("customers", [{"external_id": c, "country": "FR"} for c in "ABCDE"])
            load_records("mrr_segments", WORKED_EXAMPLE_SEGMENTS)
            assert not PendingChange.objects.exists()
    finally:
        app.conf.task_always_eager = eager
        connection.set_schema_to_public()


def every_stored_value(company) -> dict:
    with schema_context(company.schema_name):
        values = {
            (v.kpi, v.grain, v.period_start, v.segment_kind, v.segment): (
                v.value,
                v.numerator,
                v.denominator,
                v.reason,
            )
            for v in StoredKPIValue.objects.all()
        }
    connection.set_schema_to_public()
    return values


def pending_changes(company) -> int:
    with schema_context(company.schema_name):
        count = PendingChange.objects.count()
    connection.set_schema_to_public()
    return count


@contextlib.contextmanager
def advisory_lock(key: int):
    """Hold the advisory lock ``key`` in a session of its own (the stall KPI waits for it)."""
    db = connection.settings_dict
    session = psycopg.connect(
        dbname=db["NAME"], host=db["HOST"], port=db["PORT"], user=db["USER"], autocommit=True
    )
    session.execute("SELECT pg_advisory_lock(%s)", [key])
    try:
        yield session
    finally:
        session.close()


def waiting_for(key: int) -> bool:
    """A session of this database waits for the advisory lock ``key``."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE d.datname = current_database() AND l.locktype = 'advisory' "
            "AND l.classid = 0 AND l.objid = %s AND NOT l.granted",
            [key],
        )
        return cursor.fetchone()[0] > 0


def wait_until(condition, worker, what: str, timeout_s: float = WORKER_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert worker.alive(), f"the worker died:\n{worker.log()}"
        assert time.monotonic() < deadline, f"{what} did not happen in time:\n{worker.log()}"
        time.sleep(0.1)


def new_segment(customer: str) -> dict:
    return mrr_segment(customer, "2025-03-15", None, 40)


def write(company, dataset: str, records: list[dict]) -> None:
    """A committed write, as an import makes it: it schedules its recompute."""
    with schema_context(company.schema_name):
        load_records(dataset, records)
    connection.set_schema_to_public()


def test_writes_while_their_recompute_is_on_its_way_join_it(
    acme, task_queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), acme.activate():
        load_records("mrr_segments", [new_segment("X")])
        load_records("mrr_segments", [new_segment("Y")])
    assert messages_in(task_queue) == 1


def test_a_change_and_a_schedule_left_behind_do_not_stop_the_next_write_from_scheduling(
    acme, task_queue, django_capture_on_commit_callbacks
):
    day = dt.date(2025, 3, 3)
    with acme.activate():
        # What a failed send leaves: a pending change, and a schedule whose task never came.
        PendingChange.objects.create(dataset="spend", first_day=day, last_day=day)
        RecomputeSchedule.objects.create(id=1, enqueued_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True), acme.activate():
        load_records("mrr_segments", [new_segment("X")])
    assert messages_in(task_queue) == 1


def test_the_tick_resends_the_recompute_of_companies_whose_changes_wait_over_a_minute(
    acme, globex, settings
):
    settings.KPI_SIGNUP_POOL_SIZE = 0
    day = dt.date(2025, 3, 3)
    with acme.activate():
        waiting = PendingChange.objects.create(dataset="spend", first_day=day, last_day=day)
        PendingChange.objects.filter(pk=waiting.pk).update(
            created_at=timezone.now() - timedelta(minutes=2)
        )
    with globex.activate():
        # Just written: its own recompute is on its way.
        PendingChange.objects.create(dataset="spend", first_day=day, last_day=day)
    connection.set_schema_to_public()
    app.conf.task_always_eager = True  # run the sent recomputes in this process
    try:
        sent = tick.apply(kwargs={"minute": 60 * 1000 + 1}).get()
    finally:
        app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER
    assert sent >= 1
    with acme.activate():
        assert not PendingChange.objects.exists()
    with globex.activate():
        assert PendingChange.objects.count() == 1


@pytest.mark.worker
def test_a_recompute_killed_on_the_way_is_redone_and_stores_what_a_full_recompute_does(
    standing_companies, django_db_blocker, task_queue, settings, tmp_path
):
    settings.KPI_RECOMPUTE_DELAY_S = 0.2
    key = secrets.randbelow(2**31)
    with throwaway_company(django_db_blocker) as company, django_db_blocker.unblock():
        with_worked_example(company)
        before = every_stored_value(company)
        with advisory_lock(key) as stall:
            worker = start_celery_worker(
                task_queue,
                tmp_path / "worker.log",
                env={
                    STALL: f"lock:{key}:{company.schema_name}",
                    "CELERY_TASK_DEFAULT_QUEUE": task_queue,
                    "KPI_RECOMPUTE_DELAY_S": "0.2",
                },
                pool="prefork",
            )
            try:
                write(company, "mrr_segments", [new_segment("F")])
                wait_until(lambda: waiting_for(key), worker, "the recompute reaching the KPI")
                (pool_process,) = child_pids(worker.pid)
                os.kill(pool_process, signal.SIGKILL)
                stall.execute("SELECT pg_advisory_unlock(%s)", [key])
                wait_until(
                    lambda: not pending_changes(company), worker, "the redelivered recompute"
                )
                after_redelivery = every_stored_value(company)
            finally:
                output = worker.stop()
        with schema_context(company.schema_name):
            engine.recompute_everything()
        full = every_stored_value(company)
    assert f"pid:{pool_process} exited with 'signal 9 (SIGKILL)'" in output, output
    assert after_redelivery != before
    assert after_redelivery == full
    march = ("stall_segment_count", "month", dt.date(2025, 3, 1), "", "")
    assert after_redelivery[march][0] == len(WORKED_EXAMPLE_SEGMENTS) + 1


@pytest.mark.worker
def test_a_company_whose_recompute_hangs_does_not_hold_up_another_company(
    standing_companies, django_db_blocker, task_queue, settings, tmp_path
):
    settings.KPI_RECOMPUTE_DELAY_S = 0.2
    key = secrets.randbelow(2**31)
    with (
        throwaway_company(django_db_blocker) as slow,
        throwaway_company(django_db_blocker) as other,
        django_db_blocker.unblock(),
    ):
        with_worked_example(slow)
        with_worked_example(other)
        with advisory_lock(key) as stall:
            worker = start_celery_worker(
                task_queue,
                tmp_path / "worker.log",
                env={
                    STALL: f"lock:{key}:{slow.schema_name}",
                    "CELERY_TASK_DEFAULT_QUEUE": task_queue,
                    "KPI_RECOMPUTE_DELAY_S": "0.2",
                },
                pool="prefork",
                concurrency=2,
            )
            try:
                write(slow, "mrr_segments", [new_segment("F")])
                wait_until(lambda: waiting_for(key), worker, "the slow company's recompute")
                # More data for the slow company while its recompute hangs, then the other's.
                write(slow, "mrr_segments", [new_segment("G")])
                write(other, "mrr_segments", [new_segment("F")])
                wait_until(lambda: not pending_changes(other), worker, "the other's recompute")
                still_hanging = waiting_for(key)
                other_values = every_stored_value(other)
                stall.execute("SELECT pg_advisory_unlock(%s)", [key])
                wait_until(lambda: not pending_changes(slow), worker, "the slow one's recomputes")
                slow_values = every_stored_value(slow)
            finally:
                worker.stop()
    march = ("stall_segment_count", "month", dt.date(2025, 3, 1), "", "")
    assert still_hanging
    assert other_values[march][0] == len(WORKED_EXAMPLE_SEGMENTS) + 1
    # The slow company's second write was recomputed too, after its first.
    assert slow_values[march][0] == len(WORKED_EXAMPLE_SEGMENTS) + 2


def company_lock_free(company) -> bool:
    """Nobody holds the company's recompute lock (taken and given back at once)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_lock(hashtext(%s || ':kpi-recompute'))", [company.schema_name]
        )
        if not cursor.fetchone()[0]:
            return False
        cursor.execute(
            "SELECT pg_advisory_unlock(hashtext(%s || ':kpi-recompute'))", [company.schema_name]
        )
        return True


def sleeping_queries() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'active' AND query LIKE 'SELECT pg_sleep%%'"
        )
        return cursor.fetchone()[0]


@pytest.mark.worker
def test_a_recompute_past_its_time_limit_gives_its_company_lock_back(
    standing_companies, django_db_blocker, task_queue, settings, tmp_path, monkeypatch
):
    settings.KPI_RECOMPUTE_DELAY_S = 0.2
    # The sender stamps a task's time limits on its message (CELERY_TASK_SOFT_TIME_LIMIT of
    # the process that sends it): here, this test process. Celery keeps a task's options
    # once it has sent it: forget them for the test, and the test's after it.
    monkeypatch.setattr(recompute_pending_changes, "soft_time_limit", 3)
    monkeypatch.setattr(recompute_pending_changes, "time_limit", 40)
    monkeypatch.setattr(recompute_pending_changes, "_exec_options", None)
    with throwaway_company(django_db_blocker) as company, django_db_blocker.unblock():
        with_worked_example(company)
        worker = start_celery_worker(
            task_queue,
            tmp_path / "worker.log",
            env={
                # The stall KPI's query would hang for a minute, with no statement timeout.
                STALL: f"sleep:60:{company.schema_name}",
                "KPI_STATEMENT_TIMEOUT_S": "0",
                "CELERY_TASK_DEFAULT_QUEUE": task_queue,
            },
            pool="prefork",
        )
        try:
            write(company, "mrr_segments", [new_segment("F")])
            wait_until(lambda: sleeping_queries() > 0, worker, "the hanging query")
            started = time.monotonic()
            wait_until(lambda: company_lock_free(company), worker, "the lock's release", 20)
            released_after_s = time.monotonic() - started
            hanging = sleeping_queries()
            with schema_context(company.schema_name):
                left = list(PendingChange.objects.values_list("taken_at", flat=True))
            connection.set_schema_to_public()
        finally:
            output = worker.stop()
    assert "SoftTimeLimitExceeded" in output, output
    assert released_after_s < 15
    assert hanging == 0  # the query was cancelled, not left running
    # The change stays pending, taken by the recompute that did not finish: the next one
    # (the tick sends it) recomputes everything.
    assert len(left) == 1 and left[0] is not None
