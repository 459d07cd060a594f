"""Sending reports: claim, render, hand over, record, with each period's report sent once.

1. **Claim.** The periodic tick runs ``claim_due_reports`` in every company: for each enabled
   schedule whose last complete period has ended since the schedule was made, it inserts the
   delivery row of (schedule, period) in a transaction. A unique constraint makes a second
   tick, or two at once, find that row instead of making another; only the transaction that
   inserted it sends the delivery task (after commit).
2. **One attempt at a time.** ``deliver`` holds a PostgreSQL advisory lock on the delivery for
   the whole attempt, in its own database session: a duplicate message of the task finds it
   taken and stops. A worker that dies loses its session, and with it the lock.
3. **Render** (queued): the content, the charts, the PDF and CSV. Redone by a redelivered task
   (``acks_late``): nothing has left yet.
4. **Hand over.** Once connected to the mail server, the state becomes ``sending`` in a
   committed transaction, then the message goes out, then ``sent`` is committed with the
   Message-ID. A server that refuses the message leaves it ``failed`` with its answer.
5. **After a crash.** A redelivered task that finds ``sending`` cannot know whether the
   server took the message before the worker died: it records ``unconfirmed`` and does not
   send again. So a report is sent at most once; it is sent exactly once unless the worker
   dies during the few milliseconds of the SMTP exchange itself, which the delivery history
   shows (and "send now" sends it again on purpose).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import smtplib
from collections.abc import Iterator

from django.core.mail import get_connection
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from kpiplatform.hosts import company_url
from kpiplatform.reports.content import build_report, report_period
from kpiplatform.reports.message import build_message
from kpiplatform.reports.models import ReportDelivery, ReportSchedule
from kpiplatform.reports.periods import last_complete_period, period_ended_at
from kpiplatform.tenants.models import Company

logger = logging.getLogger(__name__)

# A delivery still queued this long after it was claimed lost its task: the tick resends it.
LOST_AFTER = dt.timedelta(minutes=10)
LOCK_WAIT = "30s"
_LOCK_KEYS = "hashtext(current_schema() || ':report-delivery'), %s"


class MailServerUnavailable(Exception):
    """The mail server could not be reached; nothing was handed over, so a retry is safe."""


def claim_due_reports(now: dt.datetime | None = None) -> list[int]:
    """Claim every due scheduled report of the current company; return the new deliveries'
    ids, whose tasks are sent once the claim commits."""
    now = now or timezone.now()
    claimed = []
    for schedule in ReportSchedule.objects.filter(enabled=True):
        period = last_complete_period(schedule.frequency, now)
        if schedule.created_at >= period_ended_at(period):
            continue  # its first report is the one of the first period ending after it
        with transaction.atomic():
            delivery, created = ReportDelivery.objects.get_or_create(
                schedule=schedule,
                period_start=period.start,
                trigger=ReportDelivery.Trigger.SCHEDULE,
                defaults={"grain": period.grain.value, "period_end": period.end},
            )
            if created:
                claimed.append(delivery.pk)
                _enqueue_on_commit(delivery.pk)
    # Never attempted: its task was lost. (One already attempted is retried by its own task,
    # or was redelivered by the broker; sending it again here would start a second chain
    # of retries.)
    lost = ReportDelivery.objects.filter(
        state=ReportDelivery.State.QUEUED, attempts=0, queued_at__lt=now - LOST_AFTER
    ).values_list("pk", flat=True)
    for pk in lost:
        _enqueue(pk)  # a duplicate of a task still on its way only finds the work done
    return claimed


def send_now(schedule: ReportSchedule, user) -> tuple[ReportDelivery, bool]:
    """Send the report of the last complete period now; return the delivery and whether an
    earlier "send now" still on its way was joined instead."""
    with transaction.atomic():
        ReportSchedule.objects.select_for_update().get(pk=schedule.pk)
        waiting = schedule.deliveries.filter(
            trigger=ReportDelivery.Trigger.MANUAL,
            state__in=[ReportDelivery.State.QUEUED, ReportDelivery.State.SENDING],
        ).first()
        if waiting is not None:
            return waiting, True
        period = last_complete_period(schedule.frequency)
        delivery = ReportDelivery.objects.create(
            schedule=schedule,
            trigger=ReportDelivery.Trigger.MANUAL,
            grain=period.grain.value,
            period_start=period.start,
            period_end=period.end,
            requested_by=user,
        )
        _enqueue_on_commit(delivery.pk)
    return delivery, False


def _enqueue(delivery_id: int, schema_name: str | None = None) -> None:
    from kpiplatform.reports.tasks import deliver_report

    # Sent from inside the company's schema: the task carries it to the worker.
    with schema_context(schema_name or connection.schema_name):
        deliver_report.delay(delivery_id)


def _enqueue_on_commit(delivery_id: int) -> None:
    schema_name = connection.schema_name
    transaction.on_commit(lambda: _enqueue(delivery_id, schema_name))


@contextlib.contextmanager
def attempt_lock(delivery_id: int) -> Iterator[bool]:
    """Whether this session holds the delivery's attempt lock (no other attempt runs).

    Waits up to ``LOCK_WAIT``: the session of a worker killed a moment ago may not have
    ended yet, and a duplicate of a running attempt then finds its work done.
    """
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [LOCK_WAIT])
            # A session-level lock: it outlives this transaction, until unlocked or the
            # session ends.
            cursor.execute(f"SELECT pg_advisory_lock({_LOCK_KEYS})", [delivery_id])
        held = True
    except OperationalError:  # lock_timeout: another attempt is still running
        held = False
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT pg_advisory_unlock({_LOCK_KEYS})", [delivery_id])


def _record(delivery: ReportDelivery, state: str, **fields) -> None:
    delivery.state = state
    for name, value in fields.items():
        setattr(delivery, name, value)
    delivery.save(update_fields=["state", *fields])


def deliver(delivery_id: int) -> str:
    """Render and send one delivery (see the module's steps); return its state afterwards.

    Raises ``MailServerUnavailable`` when the mail server cannot be reached before anything
    was handed over: the task retries it later.
    """
    with attempt_lock(delivery_id) as held:
        if not held:
            return "running elsewhere"
        with transaction.atomic():
            delivery = ReportDelivery.objects.select_for_update().filter(pk=delivery_id).first()
            if delivery is None:
                return "deleted"  # its schedule was deleted meanwhile
            if delivery.state in ReportDelivery.FINAL:
                return delivery.state
            if delivery.state == ReportDelivery.State.SENDING:
                _record(
                    delivery,
                    ReportDelivery.State.UNCONFIRMED,
                    error="The worker stopped while handing the message to the mail server, "
                    "so whether it was sent is unknown; it is not sent again on its own.",
                )
                logger.warning("report delivery %s: unconfirmed after a crash", delivery_id)
                return delivery.state
            delivery.attempts += 1
            delivery.save(update_fields=["attempts"])
        return _render_and_send(delivery)


def _render_and_send(delivery: ReportDelivery) -> str:
    schedule = delivery.schedule
    recipients = schedule.recipients()
    if not recipients:
        _record(delivery, ReportDelivery.State.FAILED, error="The schedule has no recipients.")
        return delivery.state
    try:
        report = build_report(schedule, report_period(schedule, delivery.period_start))
        slug = Company.objects.get(schema_name=connection.schema_name).slug
        message = build_message(report, recipients, company_url(slug, f"/reports/{schedule.pk}/"))
    except Exception as exc:  # a chart or PDF that cannot be made: nothing was sent
        logger.exception("report delivery %s: could not be rendered", delivery.pk)
        _record(
            delivery,
            ReportDelivery.State.FAILED,
            error=f"The report could not be rendered ({type(exc).__name__}: {exc}).",
        )
        return delivery.state
    mail = get_connection(fail_silently=False)
    try:
        mail.open()
        smtp = getattr(mail, "connection", None)
        if smtp is not None:  # the SMTP backend: the server must answer EHLO before hand-over
            smtp.ehlo_or_helo_if_needed()
    except (OSError, smtplib.SMTPException) as exc:
        raise MailServerUnavailable(f"{type(exc).__name__}: {exc}") from exc
    try:
        with transaction.atomic():
            _record(
                delivery,
                ReportDelivery.State.SENDING,
                handed_over_at=timezone.now(),
                recipients=recipients,
                subject=message.subject,
                message_id=message.extra_headers["Message-ID"],
            )
        try:
            mail.send_messages([message])
        except smtplib.SMTPResponseException as exc:
            # The server answered with an error: it did not take the message.
            reason = exc.smtp_error.decode(errors="replace") if exc.smtp_error else ""
            _record(
                delivery, ReportDelivery.State.FAILED, error=f"{exc.smtp_code} {reason}".strip()
            )
            return delivery.state
        except smtplib.SMTPRecipientsRefused as exc:
            refused = ", ".join(sorted(exc.recipients))
            _record(delivery, ReportDelivery.State.FAILED, error=f"Recipients refused: {refused}")
            return delivery.state
        except (OSError, smtplib.SMTPException) as exc:
            # Cut off mid-exchange: the server may or may not have taken it.
            _record(
                delivery,
                ReportDelivery.State.UNCONFIRMED,
                error=f"The connection to the mail server failed while sending: {exc}",
            )
            return delivery.state
        _record(delivery, ReportDelivery.State.SENT, sent_at=timezone.now(), error="")
    finally:
        with contextlib.suppress(Exception):
            mail.close()
    return delivery.state


def give_up(delivery_id: int, reason: str) -> None:
    """Record that the mail server stayed unreachable through every retry."""
    ReportDelivery.objects.filter(pk=delivery_id, state=ReportDelivery.State.QUEUED).update(
        state=ReportDelivery.State.FAILED, error=reason
    )
