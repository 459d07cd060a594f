"""Exactly once on a real worker (Redis broker in CI): a worker SIGKILLed while sending a
report, its task redelivered (``acks_late``), sends one e-mail whatever the moment it died."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import time
import uuid

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context
from reports_data import REPORT_KPIS, load_moving_mrr

from kpiplatform.celery import app
from kpiplatform.reports import delivery
from kpiplatform.reports.models import ReportDelivery, ReportSchedule
from kpiplatform.tenants import provisioning
from kpiplatform.testing.companies import PASSWORD
from kpiplatform.testing.mail import smtp_sink
from kpiplatform.testing.processes import child_pids, start_celery_worker, wait_until


@contextlib.contextmanager
def company_with_a_due_report(django_db_blocker):
    """A committed company (the worker is another process) with moving MRR computed and a
    weekly report made a month ago; dropped afterwards."""
    slug = f"r{uuid.uuid4().hex[:10]}"
    with django_db_blocker.unblock():
        company, _ = provisioning.create_company(
            provisioning.SignupRequest(slug.title(), slug, f"admin@{slug}.test", PASSWORD)
        )
        try:
            eager = app.conf.task_always_eager
            app.conf.task_always_eager = True  # the writes' recompute runs here, once
            try:
                with schema_context(company.schema_name):
                    with transaction.atomic():
                        week = load_moving_mrr(recompute=False)
                    schedule = ReportSchedule.objects.create(
                        name="Weekly", frequency="weekly", kpis=REPORT_KPIS,
                        recipient_addresses=["cfo@example.com"],
                    )  # fmt: skip
                    ReportSchedule.objects.filter(pk=schedule.pk).update(
                        created_at=timezone.now() - dt.timedelta(days=30)
                    )
            finally:
                app.conf.task_always_eager = eager
            connection.set_schema_to_public()
            yield company, week, schedule
        finally:
            connection.set_schema_to_public()
            company.delete(force_drop=True)


def delivery_state(company, pk: int) -> ReportDelivery:
    with schema_context(company.schema_name):
        found = ReportDelivery.objects.get(pk=pk)
    connection.set_schema_to_public()
    return found


def kill_the_send_at(step: str, start, sink, worker, company) -> tuple[int, ReportDelivery]:
    """Hold the mail server at ``step``, start a send, SIGKILL the pool process running it,
    let the server go on; return the killed process and the delivery once final."""
    gate = sink.hold_at(step)
    with schema_context(company.schema_name):
        pk = start()
    connection.set_schema_to_public()
    wait_until(gate.reached.is_set, worker, f"the send to reach {step.upper()}")
    (pool_process,) = child_pids(worker.pid)
    os.kill(pool_process, signal.SIGKILL)
    gate.release()
    wait_until(
        lambda: delivery_state(company, pk).state in ReportDelivery.FINAL,
        worker,
        "the redelivered task",
    )
    return pool_process, delivery_state(company, pk)


@pytest.mark.worker
def test_a_worker_killed_while_sending_a_report_sends_it_once_after_redelivery(
    standing_companies, django_db_blocker, task_queue, tmp_path
):
    with (
        company_with_a_due_report(django_db_blocker) as (company, week, schedule),
        smtp_sink() as sink,
        django_db_blocker.unblock(),
    ):
        worker = start_celery_worker(
            task_queue,
            tmp_path / "worker.log",
            env={"CELERY_TASK_DEFAULT_QUEUE": task_queue, "EMAIL_URL": sink.url},
            pool="prefork",
        )
        try:

            def tick_twice() -> int:
                # The tick's company task, twice for the period: one claim, one task.
                (pk,) = delivery.claim_due_reports()
                assert delivery.claim_due_reports() == []
                return pk

            # 1. Killed once connected, before the hand-over: the redelivered task sends it.
            first_kill, scheduled = kill_the_send_at("ehlo", tick_twice, sink, worker, company)
            time.sleep(1)  # anything sent twice would have arrived by now
            after_first = list(sink.received)

            # 2. Killed after the server took the message, before "sent" was recorded: the
            # redelivered task cannot know it went out; it records that, sends nothing more.
            def send_now() -> int:
                return delivery.send_now(schedule, None)[0].pk

            second_kill, manual = kill_the_send_at("data", send_now, sink, worker, company)
            time.sleep(1)
            after_second = list(sink.received)
        finally:
            output = worker.stop()
    for pid in (first_kill, second_kill):
        assert f"pid:{pid} exited with 'signal 9 (SIGKILL)'" in output, output
    assert len(after_first) == 1, output
    ((_, recipients, message),) = after_first
    assert recipients == ["cfo@example.com"] and week.label in message["Subject"]
    assert (scheduled.state, scheduled.attempts, scheduled.period_start) == ("sent", 2, week.start)
    assert scheduled.message_id == message["Message-ID"]

    assert len(after_second) == 2, output  # the manual send arrived once, not twice
    assert (manual.state, manual.attempts) == ("unconfirmed", 1)
    assert manual.message_id == after_second[1][2]["Message-ID"]
    assert "whether it was sent is unknown" in manual.error
