"""Connections and their syncs in this process: the API, secrets, failures, rotation,
the schedule and isolation. The connector is kpiplatform-listsource (tests/fixtures/plugins),
whose "upstream" is a JSON file; the syncs run through the platform's own task body."""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection as db_connection
from django.utils import timezone

from kpiplatform.celery import app, fan_out_tasks
from kpiplatform.connectors import secrets, sync
from kpiplatform.connectors.api import ConnectionSerializer
from kpiplatform.connectors.models import Connection, Disconnection, SyncRun
from kpiplatform.connectors.tasks import start_due_syncs
from kpiplatform.data.models import Customer
from kpiplatform.data.writer import BulkWriter
from kpiplatform.kpis.models import PendingChange
from kpiplatform.tenants.tasks import tick
from kpiplatform.testing.processes import database_url_for_subprocess
from kpiplatform.testing.queues import own_task_queue

KEY = "lsk_" + uuid.uuid4().hex  # the secret: searched for in every answer, log and message


def customer(n: int, **extra) -> dict:
    return {"external_id": f"c{n:03d}", "name": f"Customer {n}", "country": "FR", **extra}


def write_feed(path: Path, pages: list[list[dict]], **options) -> Path:
    feed = {
        "key": KEY,
        "pages": [{"records": {"customers": page}} for page in pages],
        "served_log": str(path.parent / "served.log"),
        **options,
    }
    path.write_text(json.dumps(feed))
    return path


def served(feed: Path) -> list[int]:
    log = feed.parent / "served.log"
    return [int(line) for line in log.read_text().split()] if log.exists() else []


PAGES = [[customer(1), customer(2)], [customer(3), customer(4)], [customer(5)]]


@pytest.fixture
def feed(tmp_path) -> Path:
    return write_feed(tmp_path / "feed.json", PAGES)


def create(company, feed: Path, role: str = "admin", **overrides):
    body = {
        "connector": "listsource",
        "name": "Shop",
        "config": {"feed": str(feed)},
        "secrets": {"api_key": KEY},
        "schedule_minutes": 60,
        **overrides,
    }
    return company.client(role).post("/api/v1/connections/", body, content_type="application/json")


def run_queued(company, connection_id: int) -> str:
    """What the worker's task does with the connection's id."""
    with company.activate():
        return sync.run(connection_id)


def customers(company) -> list[str]:
    with company.activate():
        return list(
            Customer.objects.filter(source="listsource", deleted_at=None)
            .order_by("external_id")
            .values_list("external_id", flat=True)
        )


def test_admins_create_a_connection_whose_secret_is_never_returned(acme, feed):
    response = create(acme, feed)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secrets_set"] == ["api_key"]
    assert body["config"] == {"feed": str(feed)}
    assert body["health"] == "ok"
    assert KEY not in response.content.decode()
    for path in ("/api/v1/connections/", f"/api/v1/connections/{body['id']}/"):
        answer = acme.client("admin").get(path)
        assert answer.status_code == 200
        assert KEY not in answer.content.decode()
    with acme.activate():
        stored = Connection.objects.get(pk=body["id"])
        assert KEY not in stored.secrets_encrypted
        assert KEY not in json.dumps(stored.config)
        assert stored.secret_values() == {"api_key": KEY}


@pytest.mark.parametrize("role", ["analyst", "viewer"])
def test_only_admins_read_or_manage_connections_as_on_the_pages(acme, feed, role):
    assert create(acme, feed, role=role).status_code == 403
    created = create(acme, feed).json()
    member = acme.client(role)
    url = f"/api/v1/connections/{created['id']}/"
    for path in ("/api/v1/connectors/", "/api/v1/connections/", url, url + "runs/"):
        answer = member.get(path)
        assert answer.status_code == 403, path
        assert answer.json()["error"]["message"] == "This needs the Admin role."
    assert member.patch(url, {"name": "x"}, content_type="application/json").status_code == 403
    assert member.post(url + "sync/").status_code == 403
    assert member.post(url + "check/").status_code == 403
    assert member.delete(url + "?keep_data=false").status_code == 403
    with acme.activate():
        assert Connection.objects.get().name == "Shop"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"secrets": {}}, "secrets", "api_key: required (API key)."),
        ({"config": {}}, "config", "feed: required (Feed file)."),
        ({"config": {"feed": "f", "api_key": KEY}}, "config", "api_key: it is a secret"),
        ({"config": {"feed": "f", "colour": "red"}}, "config", "colour: unknown."),
        ({"secrets": {"api_key": KEY, "pin": "1"}}, "secrets", "pin: not a secret field"),
        ({"connector": "nope"}, "connector", "No enabled plugin provides the connector 'nope'"),
    ],
)
def test_a_connection_with_bad_fields_is_refused_with_the_reason(
    acme, feed, overrides, field, message
):
    response = create(acme, feed, **overrides)
    assert response.status_code == 400, response.content
    assert message in " ".join(response.json()["error"]["fields"][field])
    assert KEY not in response.content.decode()
    with acme.activate():
        assert not Connection.objects.exists()


def test_check_says_whether_the_credentials_work(acme, feed):
    created = create(acme, feed).json()
    url = f"/api/v1/connections/{created['id']}/"
    client = acme.client("admin")
    assert client.post(url + "check/").json() == {"ok": True, "error": "", "health": "ok"}
    patched = client.patch(
        url, {"secrets": {"api_key": "lsk_wrong"}}, content_type="application/json"
    )
    assert patched.status_code == 200
    assert "lsk_wrong" not in patched.content.decode()
    answer = client.post(url + "check/").json()
    assert answer["ok"] is False
    assert answer["error"] == "The API key was refused (401 Unauthorized): it was revoked."
    assert answer["health"] == "needs_credentials"
    assert client.get(url).json()["health_reason"] == answer["error"]


def test_sync_now_writes_every_page_and_a_second_request_joins_it(
    acme, feed, django_capture_on_commit_callbacks
):
    created = create(acme, feed).json()
    url = f"/api/v1/connections/{created['id']}/sync/"
    client = acme.client("admin")
    with django_capture_on_commit_callbacks() as sent:
        first = client.post(url)
    assert first.status_code == 202
    assert first.json()["run"]["status"] == "queued"
    assert len(sent) == 1  # the task, sent once the run is committed
    second = client.post(url)
    assert second.status_code == 409
    assert second.json()["joined"] is True
    assert second.json()["run"]["id"] == first.json()["run"]["id"]
    assert "already queued" in second.json()["detail"]

    assert run_queued(acme, created["id"]) == "succeeded: 3 pages"
    assert customers(acme) == ["c001", "c002", "c003", "c004", "c005"]
    runs = client.get(f"/api/v1/connections/{created['id']}/runs/").json()["results"]
    (done,) = runs
    assert done["status"] == "succeeded"
    assert done["pages"] == 3
    assert done["counts"] == {"customers": {"read": 5, "written": 5, "deleted": 0}}
    assert done["progress"] == "page 3 of 3"
    assert done["started_at"] <= done["ended_at"]
    connection = client.get(f"/api/v1/connections/{created['id']}/").json()
    assert connection["state"] == {"next_page": 3}
    assert connection["last_run"]["id"] == done["id"]
    with acme.activate():  # the KPIs reading customers are recomputed, as after an import
        assert PendingChange.objects.filter(dataset="customers").exists()
    # Nothing waits any more: the task sent again does nothing.
    assert run_queued(acme, created["id"]).startswith("nothing to do")


def test_a_failing_page_fails_the_run_in_words_and_the_next_sync_resumes_after_the_stored_pages(
    acme, feed
):
    write_feed(feed, PAGES, fail_on_page=1)
    created = create(acme, feed).json()
    with acme.activate():
        connection = Connection.objects.get(pk=created["id"])
        sync.start(connection)
    assert run_queued(acme, created["id"]).startswith("failed")
    assert customers(acme) == ["c001", "c002"]  # the first page stays
    client = acme.client("admin")
    (failed,) = client.get(f"/api/v1/connections/{created['id']}/runs/").json()["results"]
    assert failed["status"] == "failed"
    assert "Upstream answered 500 Internal Server Error on page 1" in failed["error"]
    answer = client.get(f"/api/v1/connections/{created['id']}/").json()
    assert answer["health"] == "failing"
    assert "page 1" in answer["health_reason"]

    write_feed(feed, PAGES)  # the upstream recovers
    with acme.activate():
        sync.start(Connection.objects.get(pk=created["id"]))
    assert run_queued(acme, created["id"]) == "succeeded: 2 pages"
    assert customers(acme) == ["c001", "c002", "c003", "c004", "c005"]
    assert served(feed) == [0, 1, 2]  # page 0 was read once: the cursor was stored with it
    assert client.get(f"/api/v1/connections/{created['id']}/").json()["health"] == "ok"


def test_a_malformed_page_fails_the_run_and_leaves_the_earlier_pages(acme, feed):
    write_feed(feed, [PAGES[0], [customer(3), customer(4, country="France")], PAGES[2]])
    created = create(acme, feed).json()
    with acme.activate():
        sync.start(Connection.objects.get(pk=created["id"]))
    run_queued(acme, created["id"])
    assert customers(acme) == ["c001", "c002"]  # nothing of page 2, not even c003
    with acme.activate():
        run = SyncRun.objects.get()
        assert run.status == SyncRun.Status.FAILED
        assert run.error == (
            "Page 2 was refused, nothing of it stored: customers record 2, country: "
            "'France' is not an ISO 3166 country code (2 upper-case letters)"
        )
        assert Connection.objects.get().state == {"next_page": 1}


def test_a_key_refused_during_a_sync_marks_the_connection_until_new_credentials(acme, feed):
    created = create(acme, feed).json()
    write_feed(feed, PAGES, key="lsk_rotated_upstream")
    with acme.activate():
        sync.start(Connection.objects.get(pk=created["id"]))
    run_queued(acme, created["id"])
    url = f"/api/v1/connections/{created['id']}/"
    client = acme.client("admin")
    answer = client.get(url).json()
    assert answer["health"] == "needs_credentials"
    assert answer["health_reason"] == "The API key was refused (401 Unauthorized): it was revoked."
    assert answer["last_run"]["status"] == "failed"
    with acme.activate():
        SyncRun.objects.update(started_at=timezone.now() - timedelta(days=1))
        assert sync.start_due() == 0  # no scheduled sync with refused credentials
    client.patch(
        url, {"secrets": {"api_key": "lsk_rotated_upstream"}}, content_type="application/json"
    )
    assert client.get(url).json()["health"] == "ok"
    with acme.activate():
        assert sync.start_due() == 1


def test_records_deleted_upstream_are_tombstoned(acme, tmp_path):
    feed = tmp_path / "feed.json"
    feed.write_text(
        json.dumps(
            {
                "key": KEY,
                "pages": [
                    {"records": {"customers": PAGES[0]}},
                    {"records": {}, "deleted": {"customers": ["c001"]}},
                ],
            }
        )
    )
    created = create(acme, feed).json()
    with acme.activate():
        sync.start(Connection.objects.get(pk=created["id"]))
    run_queued(acme, created["id"])
    assert customers(acme) == ["c002"]
    with acme.activate():
        assert Customer.objects.get(external_id="c001").deleted_at is not None
        assert SyncRun.objects.get().counts["customers"] == {
            "read": 2,
            "written": 2,
            "deleted": 1,
        }


def test_the_schedule_starts_due_syncs_only(acme, globex, feed, settings):
    created = create(acme, feed, schedule_minutes=30).json()
    with acme.activate():
        assert start_due_syncs() == 1  # never synced: due
        assert start_due_syncs() == 0  # queued already
        run_queued(acme, created["id"])
        assert start_due_syncs() == 0  # synced just now
        SyncRun.objects.update(started_at=timezone.now() - timedelta(minutes=31))
        assert start_due_syncs() == 1
        assert SyncRun.objects.filter(status="queued", trigger="schedule").count() == 1
        # A run whose task was lost (no heartbeat for long) gets its task again, no new run.
        SyncRun.objects.filter(status="queued").update(
            queued_at=timezone.now() - timedelta(hours=1)
        )
        assert start_due_syncs() == 1
        assert SyncRun.objects.count() == 2
    db_connection.set_schema_to_public()
    assert sync.companies_with_schedules([acme.schema_name, globex.schema_name]) == [
        acme.schema_name
    ]


def test_a_manual_only_connection_is_never_scheduled(acme, feed):
    create(acme, feed, schedule_minutes=0)
    with acme.activate():
        assert start_due_syncs() == 0
    db_connection.set_schema_to_public()
    assert sync.companies_with_schedules([acme.schema_name]) == []


def test_the_tick_sends_again_the_task_of_a_disconnect_that_lost_it(acme, globex, feed, settings):
    created = create(acme, feed, schedule_minutes=0).json()  # never scheduled itself
    with acme.activate():
        sync.start(Connection.objects.get())
    run_queued(acme, created["id"])
    # Asked for in this test's transaction, its task is never sent: as if the broker lost it.
    answer = acme.client().delete(f"/api/v1/connections/{created['id']}/?keep_data=false")
    assert answer.status_code == 202
    db_connection.set_schema_to_public()
    assert sync.companies_with_schedules([acme.schema_name, globex.schema_name]) == [
        acme.schema_name
    ]
    app.conf.task_always_eager = True  # the task it sends runs here
    try:
        with acme.activate():
            assert start_due_syncs() == 0  # heard from just now: on its way
            Disconnection.objects.update(heartbeat_at=timezone.now() - timedelta(minutes=11))
            assert start_due_syncs() == 1
            assert not Connection.objects.exists()
    finally:
        app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER
    assert customers(acme) == []


def test_globex_cannot_see_or_touch_acmes_connection(acme, globex, feed):
    created = create(acme, feed).json()
    url = f"/api/v1/connections/{created['id']}/"
    intruder = globex.client("admin")
    assert intruder.get("/api/v1/connections/").json() == []
    assert intruder.get(url).status_code == 404
    assert intruder.get(url + "runs/").status_code == 404
    assert intruder.post(url + "sync/").status_code == 404
    assert intruder.post(url + "check/").status_code == 404
    assert intruder.delete(url + "?keep_data=false").status_code == 404
    with acme.activate():
        assert Connection.objects.filter(pk=created["id"]).exists()


def test_disconnecting_with_keep_data_keeps_what_it_brought(acme, feed):
    created = create(acme, feed).json()
    with acme.activate():
        sync.start(Connection.objects.get(pk=created["id"]))
    run_queued(acme, created["id"])
    answer = acme.client().delete(f"/api/v1/connections/{created['id']}/?keep_data=true")
    assert answer.status_code == 200
    assert answer.json() == {"source": "listsource", "keep_data": True, "deleted": {}}
    with acme.activate():
        assert not Connection.objects.exists()
        assert not SyncRun.objects.exists()
    assert len(customers(acme)) == 5


def test_the_secret_never_reaches_a_log_line_or_a_task_message(
    acme, feed, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG)
    with own_task_queue() as queue_name:
        write_feed(feed, PAGES, fail_on_page=2)
        created = create(acme, feed).json()
        client = acme.client("admin")
        url = f"/api/v1/connections/{created['id']}/"
        client.post(url + "check/")
        with django_capture_on_commit_callbacks(execute=True):
            client.post(url + "sync/")  # sends the task to this test's queue
        with app.connection_for_write() as broker:
            message = broker.default_channel.basic_get(queue=queue_name, no_ack=True)
        run_queued(acme, created["id"])  # fails on page 2: logged
        client.patch(url, {"secrets": {"api_key": "lsk_bad"}}, content_type="application/json")
        client.post(url + "check/")
    assert message is not None
    body = message.body.decode() if isinstance(message.body, bytes) else str(message.body)
    assert json.loads(body)[0] == [created["id"]]  # the id, and nothing else
    assert KEY not in body and KEY not in json.dumps(message.headers, default=str)
    assert "failed" in caplog.text  # the failure was logged...
    assert KEY not in caplog.text  # ...without the secret
    assert "lsk_bad" not in caplog.text


def test_old_ciphertexts_decrypt_until_rotation_re_encrypts_them_with_the_first_key(
    acme, globex, feed, settings
):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.KPI_SECRET_KEYS = [old_key]
    created = create(acme, feed).json()
    with globex.activate():
        other = Connection(connector="listsource", config={"feed": str(feed)})
        other.set_secrets({"api_key": "globex-" + KEY})
        other.save()
    with acme.activate():
        before = Connection.objects.get(pk=created["id"]).secrets_encrypted
    settings.KPI_SECRET_KEYS = [new_key, old_key]  # a new key prepended
    with acme.activate():
        assert Connection.objects.get(pk=created["id"]).secret_values() == {"api_key": KEY}
    assert acme.client().post(f"/api/v1/connections/{created['id']}/check/").json()["ok"]

    call_command("rotate_secrets")

    settings.KPI_SECRET_KEYS = [new_key]  # the old key removed
    with acme.activate():
        after = Connection.objects.get(pk=created["id"])
        assert after.secrets_encrypted != before
        assert after.secret_values() == {"api_key": KEY}
    with globex.activate():
        assert Connection.objects.get().secret_values() == {"api_key": "globex-" + KEY}
    with pytest.raises(secrets.SecretsUnreadable):
        secrets.decrypt(before)  # what was stored before needs the old key


def test_a_rate_limited_page_is_read_again_after_its_retry_after(acme, feed):
    write_feed(feed, PAGES, rate_limit={"page": 1, "times": 2, "retry_after": 0.3})
    created = create(acme, feed).json()
    with acme.activate():
        sync.start(Connection.objects.get(pk=created["id"]))
    began = time.monotonic()
    assert run_queued(acme, created["id"]) == "succeeded: 3 pages"
    assert time.monotonic() - began >= 0.6  # two waits of Retry-After: 0.3
    assert customers(acme) == ["c001", "c002", "c003", "c004", "c005"]


def test_a_page_still_rate_limited_after_every_attempt_fails_the_run_in_words(acme, feed):
    write_feed(feed, PAGES, rate_limit={"page": 1, "times": 99, "retry_after": 0})
    created = create(acme, feed).json()
    with acme.activate():
        sync.start(Connection.objects.get(pk=created["id"]))
        run_queued(acme, created["id"])
        run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.FAILED
    assert run.error == "RetryLater: 429 Too Many Requests"
    assert customers(acme) == ["c001", "c002"]


def test_editing_a_connection_during_a_sync_keeps_the_cursor_the_sync_stored(acme, feed):
    created = create(acme, feed).json()
    with acme.activate():
        # An edit reads the connection; then a page of a running sync is stored; then the
        # edit saves (as a PATCH and a sync in two processes may interleave).
        edit = ConnectionSerializer(
            Connection.objects.get(pk=created["id"]), data={"name": "Renamed"}, partial=True
        )
        assert edit.is_valid(), edit.errors
        connection = Connection.objects.get(pk=created["id"])
        run, _ = sync.start(connection)
        pages = iter(sync.connector_for("listsource")[1].sync(connection.full_config(), {}))
        sync._store(connection, run, BulkWriter(connection.source), next(pages))
        edit.save()
        stored = Connection.objects.get(pk=created["id"])
    assert (stored.name, stored.state) == ("Renamed", {"next_page": 1})


def test_check_with_secrets_no_key_decrypts_says_so(acme, feed, settings):
    created = create(acme, feed).json()
    settings.KPI_SECRET_KEYS = [Fernet.generate_key().decode()]  # the key was lost
    answer = acme.client().post(f"/api/v1/connections/{created['id']}/check/")
    assert answer.status_code == 200
    assert answer.json()["error"] == (
        "The stored secrets cannot be decrypted with any key of KPI_SECRET_KEYS."
    )
    url = f"/api/v1/connections/{created['id']}/"
    listed = acme.client().get(url)
    assert listed.status_code == 200
    assert listed.json()["secrets_set"] == []  # an admin sets them again:
    patched = acme.client().patch(
        url, {"secrets": {"api_key": KEY}}, content_type="application/json"
    )
    assert patched.status_code == 200
    assert acme.client().post(url + "check/").json()["ok"] is True


def test_a_page_of_the_wrong_shape_fails_the_run_in_words(acme, feed):
    feed.write_text(
        json.dumps(
            {"key": KEY, "pages": [{"records": {"customers": PAGES[0]}}, {"records": [1, 2]}]}
        )
    )
    created = create(acme, feed).json()
    with acme.activate():
        sync.start(Connection.objects.get(pk=created["id"]))
        assert run_queued(acme, created["id"]).startswith("failed")
        run = SyncRun.objects.get()
    assert run.error == "Page 2: the connector's records are not {dataset: [record, ...]}."
    assert customers(acme) == ["c001", "c002"]


def test_a_second_task_for_a_connection_whose_sync_runs_elsewhere_leaves_it_alone(acme, feed):
    created = create(acme, feed).json()
    with acme.activate():
        sync.start(Connection.objects.get(pk=created["id"]))
    key = f"kpiplatform.connectors.sync:{acme.schema_name}:{created['id']}"
    # Another worker's session holds the connection's lease.
    with psycopg.connect(database_url_for_subprocess(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(hashtext(%s))", [key])
        assert run_queued(acme, created["id"]).startswith("busy")
        assert customers(acme) == []
        with acme.activate():
            assert SyncRun.objects.get().status == SyncRun.Status.QUEUED
    # Its session ended: the lease is free again (once the server has ended that session,
    # which happens a moment after the client closed it).
    deadline = time.monotonic() + 10
    with psycopg.connect(database_url_for_subprocess(), autocommit=True) as probe:
        while time.monotonic() < deadline:
            held = probe.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND objid::int = hashtext(%s)",
                [key],
            ).fetchone()[0]
            if not held:
                break
            time.sleep(0.05)
    assert run_queued(acme, created["id"]) == "succeeded: 3 pages"


def test_the_tick_starts_the_due_syncs_of_companies_with_a_schedule(acme, feed, settings):
    settings.KPI_SIGNUP_POOL_SIZE = 0  # the tick also refills the pool: nothing to do here
    assert start_due_syncs in fan_out_tasks()
    create(acme, feed, schedule_minutes=15)
    db_connection.set_schema_to_public()
    app.conf.task_always_eager = True  # run the fanned-out tasks in this process
    try:
        assert tick.apply(kwargs={"minute": 60 * 1000 + 1}).get() >= 1
    finally:
        app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER
    with acme.activate():
        run = SyncRun.objects.get()
    assert (run.trigger, run.status) == ("schedule", "queued")


def test_source_object_payloads_are_compressed_with_lz4_where_the_server_has_it(acme):
    with acme.activate(), db_connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        (has_lz4,) = cursor.fetchone()
        cursor.execute(
            "SELECT attcompression FROM pg_attribute "
            "WHERE attrelid = 'connectors_sourceobject'::regclass AND attname = 'payload'"
        )
        (method,) = cursor.fetchone()
    # "l": lz4; "" is the server's default (pglz) where lz4 is not built in.
    assert method == ("l" if has_lz4 else "")


def test_a_new_time_zone_syncs_every_connection_that_can_sync(acme, globex, feed):
    ours = create(acme, feed, schedule_minutes=0).json()
    theirs = create(globex, feed, schedule_minutes=0).json()
    admin = acme.client("admin")
    form = {"reporting_currency": "EUR", "time_zone": "UTC", "gross_margin": "1"}
    admin.post("/settings/", form)  # nothing changed: no sync
    with acme.activate():
        assert SyncRun.objects.count() == 0
        Connection.objects.update(health=Connection.Health.NEEDS_CREDENTIALS)
    admin.post("/settings/", {**form, "time_zone": "Asia/Tokyo"})  # waits for credentials
    with acme.activate():
        assert SyncRun.objects.count() == 0
        Connection.objects.update(health=Connection.Health.OK)
    admin.post("/settings/", {**form, "time_zone": "Europe/Paris"})
    with acme.activate():
        queued = list(SyncRun.objects.values_list("connection_id", "trigger", "status"))
    assert queued == [(ours["id"], "settings", "queued")]
    with globex.activate():
        assert not SyncRun.objects.filter(connection_id=theirs["id"]).exists()
