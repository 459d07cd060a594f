"""The connection pages with the test client: adding from the connector's form (secrets
write-only, even after a form error), editing, testing, sync now and its progress fragment,
the run history, disconnecting with or without the data, for each role and across companies.
The connector is kpiplatform-listsource (tests/fixtures/plugins), whose upstream is a file."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection as db_connection
from django.utils import timezone

from kpiplatform.connectors import disconnect, sync
from kpiplatform.connectors.models import Connection, SyncRun
from kpiplatform.data.models import DATASETS, Customer, MrrSegment
from kpiplatform.testing.data import load_records
from kpiplatform.testing.kpis import configure_company, recompute_pending, stored_values

KEY = "lsk_" + uuid.uuid4().hex  # the secret: searched for in every page and log line
PAGES = [
    {
        "records": {
            "customers": [
                {"external_id": "L1", "name": "Lena", "country": "DE"},
                {"external_id": "L2", "name": "Lou", "country": "FR"},
            ],
            "mrr_segments": [
                {
                    "external_id": "seg-L1",
                    "customer_ref": "L1",
                    "starts_on": "2025-01-01",
                    "mrr_minor": 20000,
                    "currency": "EUR",
                }
            ],
        }
    },
    {
        "records": {
            "mrr_segments": [
                {
                    "external_id": "seg-L2",
                    "customer_ref": "L2",
                    "starts_on": "2025-02-01",
                    "mrr_minor": 5000,
                    "currency": "EUR",
                }
            ]
        }
    },
]
JAN, FEB, MAR = dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 3, 1)


@pytest.fixture
def feed(tmp_path) -> Path:
    path = tmp_path / "feed.json"
    path.write_text(json.dumps({"key": KEY, "pages": PAGES}))
    return path


def add_form(feed: Path, **overrides) -> dict:
    return {
        "name": "Shop",
        "config_feed": str(feed),
        "secret_api_key": KEY,
        "config_label": "",
        "config_archived": "on",
        "config_region": "eu",
        "schedule_minutes": "60",
        **overrides,
    }


def add(company, feed: Path, **overrides):
    return company.client("admin").post("/connections/add/listsource/", add_form(feed, **overrides))


def the_connection(company) -> Connection:
    with company.activate():
        found = Connection.objects.get()
    db_connection.set_schema_to_public()
    return found


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def run_queued(company, connection_id: int) -> str:
    """What the worker's task does with the connection's id."""
    with company.activate():
        said = sync.run(connection_id)
    db_connection.set_schema_to_public()
    return said


def test_an_admin_adds_a_connection_from_its_form_and_the_secret_is_never_shown(acme, feed, caplog):
    caplog.set_level(logging.DEBUG)
    admin = acme.client("admin")
    listing = admin.get("/connections/")
    assert listing.status_code == 200
    assert 'href="/connections/add/listsource/"' in listing.content.decode()
    assert "No connection yet." in listing.content.decode()

    form = admin.get("/connections/add/listsource/").content.decode()
    for control in (
        '<input type="text" name="config_feed"',
        '<input type="password" name="secret_api_key"',
        '<input type="checkbox" name="config_archived"',
        '<select name="config_region"',
        '<select name="schedule_minutes"',
    ):
        assert control in form, control
    assert '<option value="us">United States</option>' in form

    response = add(acme, feed)
    assert response.status_code == 302
    created = the_connection(acme)
    assert response["Location"] == f"/connections/{created.pk}/"
    assert created.config == {"feed": str(feed), "label": "", "archived": True, "region": "eu"}
    assert created.schedule_minutes == 60
    with acme.activate():
        assert Connection.objects.get().secret_values() == {"api_key": KEY}
    db_connection.set_schema_to_public()

    pages = [
        admin.get(path)
        for path in (
            "/connections/",
            f"/connections/{created.pk}/",
            f"/connections/{created.pk}/edit/",
            f"/connections/{created.pk}/progress/",
            f"/connections/{created.pk}/disconnect/",
        )
    ]
    assert [page.status_code for page in pages] == [200] * 5
    listed = pages[0].content.decode()
    assert "Shop" in listed and "Not synced yet" in listed and "Due now" in listed
    edit = pages[2].content.decode()
    (secret_input,) = re.findall(r'<input type="password"[^>]*>', edit)
    assert "value=" not in secret_input  # rendered empty
    assert "Stored; leave empty to keep it." in edit
    for page in pages:
        assert KEY not in page.content.decode()
    assert KEY not in caplog.text


def test_a_refused_form_says_why_on_its_fields_and_never_echoes_the_secret(acme, feed, caplog):
    caplog.set_level(logging.DEBUG)
    refused = add(acme, feed, config_feed="", config_region="mars")
    assert refused.status_code == 400
    html = refused.content.decode()
    assert KEY not in html
    assert re.search(r'<input type="password" name="secret_api_key"(?![^>]*value=)[^>]*>', html)
    errors = refused.context["form"].errors
    assert errors["config_feed"] == ["This field is required."]
    assert "Select a valid choice" in errors["config_region"][0]
    with acme.activate():
        assert not Connection.objects.exists()
    db_connection.set_schema_to_public()

    missing_secret = add(acme, feed, secret_api_key="")
    assert missing_secret.status_code == 400
    assert missing_secret.context["form"].errors["secret_api_key"] == ["This field is required."]
    assert KEY not in caplog.text


def test_editing_keeps_an_empty_secret_and_replaces_a_given_one(acme, feed):
    add(acme, feed)
    pk = the_connection(acme).pk
    admin = acme.client("admin")
    unticked = add_form(feed, name="Renamed", secret_api_key="", schedule_minutes="0")
    del unticked["config_archived"]  # a checkbox left unticked is not sent
    kept = admin.post(f"/connections/{pk}/edit/", unticked)
    assert kept.status_code == 302
    with acme.activate():
        stored = Connection.objects.get()
        assert (stored.name, stored.schedule_minutes) == ("Renamed", 0)
        assert stored.secret_values() == {"api_key": KEY}
        assert stored.config["archived"] is False
    db_connection.set_schema_to_public()
    assert "Only when asked" in admin.get("/connections/").content.decode()

    replaced = admin.post(f"/connections/{pk}/edit/", add_form(feed, secret_api_key="lsk_new"))
    assert replaced.status_code == 302
    with acme.activate():
        assert Connection.objects.get().secret_values() == {"api_key": "lsk_new"}
    db_connection.set_schema_to_public()
    page = admin.get(f"/connections/{pk}/edit/").content.decode()
    assert "lsk_new" not in page


def test_test_says_whether_the_source_accepts_the_credentials(acme, feed):
    add(acme, feed)
    pk = the_connection(acme).pk
    admin = acme.client("admin")
    passed = admin.post(f"/connections/{pk}/test/", follow=True)
    assert messages_of(passed) == ["Test passed: the source accepts the credentials."]
    admin.post(f"/connections/{pk}/edit/", add_form(feed, secret_api_key="lsk_wrong"))
    failed = admin.post(f"/connections/{pk}/test/", follow=True)
    assert messages_of(failed)[-1:] == [
        "Test failed: The API key was refused (401 Unauthorized): it was revoked."
    ]
    html = failed.content.decode()
    assert "Needs new credentials: The API key was refused" in html
    assert "Paused until new credentials are saved" in html
    assert "lsk_wrong" not in html


def test_sync_now_queues_a_run_then_joins_it_and_the_progress_stops_polling_once_done(
    acme, feed, django_capture_on_commit_callbacks
):
    add(acme, feed)
    pk = the_connection(acme).pk
    admin = acme.client("admin")
    with django_capture_on_commit_callbacks() as sent:
        first = admin.post(f"/connections/{pk}/sync/", follow=True)
    assert len(sent) == 1
    with acme.activate():
        run = SyncRun.objects.get()
    db_connection.set_schema_to_public()
    assert messages_of(first) == [f"Sync queued (run {run.pk}): its progress is below."]
    second = admin.post(f"/connections/{pk}/sync/", follow=True)
    assert messages_of(second) == [
        f"A sync of this connection is already queued (run {run.pk}): its progress is below."
    ]
    polling = admin.get(f"/connections/{pk}/progress/", HTTP_HX_REQUEST="true").content.decode()
    assert f'hx-get="/connections/{pk}/progress/"' in polling
    assert f"Run {run.pk}: queued" in polling
    assert "run-history" not in polling

    assert run_queued(acme, pk) == "succeeded: 2 pages"
    done = admin.get(f"/connections/{pk}/progress/", HTTP_HX_REQUEST="true").content.decode()
    assert "hx-get" not in done  # polls no more
    assert f"Run {run.pk}: succeeded" in done
    assert "2 pages stored · page 2 of 2" in done
    assert "<td>customers</td><td>2</td><td>2</td><td>0</td>" in done
    assert "<td>mrr_segments</td><td>2</td><td>2</td><td>0</td>" in done
    assert 'id="run-history" hx-swap-oob="true"' in done  # the history brought up to date
    assert 'id="connection-facts" hx-swap-oob="true"' in done  # and the health
    assert "customers: 2 read, 2 written, 0 deleted" in done
    listed = admin.get("/connections/").content.decode()
    assert "Working" in listed and "succeeded" in listed


def test_a_failed_run_shows_its_error_in_words_in_the_history(acme, tmp_path):
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps({"key": KEY, "pages": PAGES, "fail_on_page": 1}))
    add(acme, feed)
    pk = the_connection(acme).pk
    acme.client("admin").post(f"/connections/{pk}/sync/")
    run_queued(acme, pk)
    html = acme.client("admin").get(f"/connections/{pk}/").content.decode()
    said = "RuntimeError: Upstream answered 500 Internal Server Error on page 1"
    assert f"Failing: {said}" in html
    assert f'<td class="run-error">{said}</td>' in html


def test_a_malformed_schedule_or_an_unknown_connector_is_refused(acme, feed):
    admin = acme.client("admin")
    assert add(acme, feed, schedule_minutes="2").status_code == 400
    assert admin.get("/connections/add/nope/").status_code == 404
    assert admin.post("/connections/add/nope/", add_form(feed)).status_code == 404
    with acme.activate():
        assert not Connection.objects.exists()


@pytest.mark.parametrize("role", ["analyst", "viewer"])
def test_analysts_and_viewers_get_the_403_page_everywhere(acme, feed, role):
    add(acme, feed)
    pk = the_connection(acme).pk
    member = acme.client(role)
    gets = (
        ["/connections/", "/connections/add/listsource/"]
        + [
            f"/connections/{pk}/{tail}"
            for tail in ("", "edit/", "progress/", "disconnect/", "disconnect/progress/")
        ]
        + ["/connections/live/"]
    )
    for path in gets:
        answer = member.get(path)
        assert answer.status_code == 403, path
        assert "This needs the Admin role." in answer.content.decode()
    for tail in ("test/", "sync/", "edit/", "disconnect/"):
        answer = member.post(f"/connections/{pk}/{tail}", {"data": "delete", "name": "x"})
        assert answer.status_code == 403, tail
    assert "/connections/" not in member.get("/").content.decode()  # not in the navigation
    with acme.activate():
        assert Connection.objects.get().name == "Shop"
        assert not SyncRun.objects.exists()


def test_another_companys_connections_and_runs_are_invisible(acme, globex, feed):
    add(acme, feed)
    pk = the_connection(acme).pk
    acme.client("admin").post(f"/connections/{pk}/sync/")
    run_queued(acme, pk)
    intruder = globex.client("admin")
    listing = intruder.get("/connections/").content.decode()
    assert "Shop" not in listing and "No connection yet." in listing
    for tail in ("", "edit/", "progress/", "disconnect/", "disconnect/progress/"):
        assert intruder.get(f"/connections/{pk}/{tail}").status_code == 404, tail
    assert "Shop" not in intruder.get("/connections/live/").content.decode()
    for tail in ("test/", "sync/", "disconnect/"):
        assert intruder.post(f"/connections/{pk}/{tail}", {"data": "delete"}).status_code == 404
    # Acme's admin session on Globex's host is not logged in there.
    stray = acme.client("admin").get(f"/connections/{pk}/", HTTP_HOST=globex.host)
    assert stray.status_code == 302 and "/login/" in stray["Location"]
    with acme.activate():
        assert Connection.objects.filter(pk=pk).exists()
        assert SyncRun.objects.count() == 1


def _synced_with_an_import_beside_it(company, feed) -> int:
    with company.activate():
        configure_company("EUR")
        load_records(
            "mrr_segments",
            [
                {
                    "customer_ref": "I1",
                    "starts_on": "2025-01-01",
                    "mrr_minor": 10000,
                    "currency": "EUR",
                }
            ],
        )
    db_connection.set_schema_to_public()
    add(company, feed)
    pk = the_connection(company).pk
    company.client("admin").post(f"/connections/{pk}/sync/")
    assert run_queued(company, pk) == "succeeded: 2 pages"
    with company.activate():
        recompute_pending()
        mrr = stored_values("mrr")
        active = stored_values("active_customers")
        # By hand: I1 100 from January; L1 200 from January; L2 50 from February.
        assert [mrr[m].value for m in (JAN, FEB, MAR)] == [Decimal(300), Decimal(350), Decimal(350)]
        assert active[MAR].value == 3
    db_connection.set_schema_to_public()
    return pk


def test_disconnect_keeping_the_data_leaves_the_records_and_the_kpis(acme, feed):
    pk = _synced_with_an_import_beside_it(acme, feed)
    admin = acme.client("admin")
    asked = admin.get(f"/connections/{pk}/disconnect/").content.decode()
    assert 'type="radio" id="data-keep" name="data" value="keep"' in asked
    assert 'value="delete"' in asked
    unanswered = admin.post(f"/connections/{pk}/disconnect/", {})
    assert unanswered.status_code == 400
    assert "Choose whether to keep or delete" in unanswered.content.decode()

    done = admin.post(f"/connections/{pk}/disconnect/", {"data": "keep"}, follow=True)
    assert messages_of(done) == [
        "Shop is disconnected. The records it brought stay, under the source “listsource”."
    ]
    with acme.activate():
        assert not Connection.objects.exists() and not SyncRun.objects.exists()
        assert Customer.objects.filter(source="listsource").count() == 2
        assert MrrSegment.objects.filter(source="listsource").count() == 2
        recompute_pending()
        assert stored_values("mrr")[MAR].value == Decimal(350)
    db_connection.set_schema_to_public()
    listed = admin.get("/api/v1/data/mrr_segments/?source=listsource").json()
    assert sorted(r["external_id"] for r in listed["results"]) == ["seg-L1", "seg-L2"]


def remove_queued(company, connection_id: int) -> str:
    """What the worker's removal task does with the connection's id (one slice)."""
    with company.activate():
        said = disconnect.remove(connection_id).said
    db_connection.set_schema_to_public()
    return said


def test_disconnect_deleting_the_data_shows_its_progress_then_leaves_nothing_of_the_source(
    acme, feed, monkeypatch, django_capture_on_commit_callbacks
):
    pk = _synced_with_an_import_beside_it(acme, feed)
    admin = acme.client("admin")
    not_yet = admin.get(f"/connections/{pk}/disconnect/progress/")  # nothing to follow
    assert (not_yet.status_code, not_yet["Location"]) == (302, f"/connections/{pk}/")
    with django_capture_on_commit_callbacks() as sent:
        asked = admin.post(f"/connections/{pk}/disconnect/", {"data": "delete"}, follow=True)
    assert len(sent) == 1  # the removal's task, once the request commits
    assert asked.redirect_chain == [(f"/connections/{pk}/", 302)]
    assert messages_of(asked) == [
        "Disconnecting Shop: the records it brought are being deleted in the background, then "
        "the connection goes and the KPIs they touched are recomputed. The progress is below."
    ]
    page = asked.content.decode()
    total = len(DATASETS)
    assert f"Disconnecting… 0 of {total} datasets removed, 0 records deleted so far" in page
    assert f'hx-get="/connections/{pk}/disconnect/progress/"' in page
    assert "Sync now" not in page  # nor any other action on a connection on its way out
    listed = admin.get("/connections/").content.decode()
    assert f"Disconnecting… 0 of {total} datasets removed" in listed
    assert 'hx-get="/connections/live/"' in listed
    with acme.activate():
        assert Customer.objects.filter(source="listsource").count() == 2  # nothing yet

    # One record per batch and one batch per slice: each slice's progress is seen.
    monkeypatch.setattr(disconnect, "PURGE_BATCH", 1)
    monkeypatch.setattr(disconnect, "SLICE_S", 0)
    seen = []
    while (said := remove_queued(acme, pk)).startswith("continuing"):
        progress = admin.get(f"/connections/{pk}/disconnect/progress/", HTTP_HX_REQUEST="true")
        html = progress.content.decode()
        seen.append(re.search(r"Disconnecting… [^<]*", html).group(0))
        assert 'id="connection-facts" hx-swap-oob="true"' in html  # the health follows it
    assert said == "done: 4 records deleted"
    assert seen[:3] == [
        f"Disconnecting… 0 of {total} datasets removed, 1 record deleted so far",
        f"Disconnecting… 0 of {total} datasets removed, 2 records deleted so far",
        f"Disconnecting… 1 of {total} datasets removed, 2 records deleted so far",
    ]
    assert f"Disconnecting… 4 of {total} datasets removed, 4 records deleted so far" in seen
    assert (
        seen[-1] == f"Disconnecting… {total} of {total} datasets removed, 4 records deleted so far"
    )

    # Gone: the polling page is taken to the list, which no longer has it.
    gone = admin.get(f"/connections/{pk}/disconnect/progress/", HTTP_HX_REQUEST="true")
    assert gone["HX-Redirect"] == "/connections/"
    listed = admin.get("/connections/")
    assert messages_of(listed) == [
        "Disconnected: the records it brought are deleted and the KPIs they touched are being "
        "recomputed."
    ]
    assert "No connection yet." in listed.content.decode()
    assert 'hx-get="/connections/live/"' not in listed.content.decode()
    with acme.activate():
        assert not Connection.objects.exists() and not SyncRun.objects.exists()
        for model in DATASETS.values():
            assert not model.objects.filter(source="listsource").exists(), model
        assert MrrSegment.objects.filter(source="import").count() == 1  # another source's
        recompute_pending()
        mrr = stored_values("mrr")
        assert [mrr[m].value for m in (JAN, FEB, MAR)] == [Decimal(100)] * 3
        assert stored_values("active_customers")[MAR].value == 1
    db_connection.set_schema_to_public()
    assert remove_queued(acme, pk).startswith("nothing to do")  # a redelivery: no error


def test_no_sync_starts_while_disconnecting_and_its_records_cannot_be_kept_any_more(acme, feed):
    pk = _synced_with_an_import_beside_it(acme, feed)
    admin = acme.client("admin")
    with acme.activate():
        Connection.objects.update(schedule_minutes=5)
        SyncRun.objects.update(started_at=timezone.now() - dt.timedelta(hours=1))
        queued, _ = sync.start(Connection.objects.get())  # a run waiting for a worker
    db_connection.set_schema_to_public()
    admin.post(f"/connections/{pk}/disconnect/", {"data": "delete"}, follow=True)
    refusal = (
        "This connection is being disconnected and the records it brought deleted: "
        "no sync of it starts."
    )
    with acme.activate():
        canceled = SyncRun.objects.get(pk=queued.pk)
        assert (canceled.status, canceled.error) == (
            "failed",
            "Canceled: the connection is being disconnected.",
        )
        assert sync.start_due() == 0  # due by its schedule, and skipped
        assert sync.run(pk) == "nothing to do: no sync of this connection is waiting"
    db_connection.set_schema_to_public()
    assert messages_of(admin.post(f"/connections/{pk}/sync/", follow=True)) == [refusal]
    answer = admin.post(f"/api/v1/connections/{pk}/sync/")
    assert answer.status_code == 409
    assert answer.json()["error"] == {"code": "disconnecting", "message": refusal}
    assert admin.get(f"/api/v1/connections/{pk}/").json()["next_sync_at"] is None
    kept = admin.post(f"/connections/{pk}/disconnect/", {"data": "keep"})
    assert kept.status_code == 409
    assert "already being disconnected" in kept.content.decode()
    kept = admin.delete(f"/api/v1/connections/{pk}/?keep_data=true")
    assert kept.status_code == 409 and kept.json()["error"]["code"] == "disconnecting"
    # The disconnect page has nothing more to ask: its progress is on the connection's page.
    assert admin.get(f"/connections/{pk}/disconnect/")["Location"] == f"/connections/{pk}/"
    # Nor can it be edited or tested any more, by page or API.
    edit = admin.get(f"/connections/{pk}/edit/", follow=True)
    assert edit.redirect_chain[-1][0] == f"/connections/{pk}/"
    assert messages_of(edit) == [
        refusal.replace("no sync of it starts", "it can no longer be edited")
    ]
    saved = admin.post(f"/connections/{pk}/edit/", {"name": "Renamed"}, follow=True)
    assert "it can no longer be edited" in messages_of(saved)[0]
    tested = admin.post(f"/connections/{pk}/test/", follow=True)
    assert messages_of(tested) == [
        refusal.replace("no sync of it starts", "it can no longer be tested")
    ]
    patched = admin.patch(
        f"/api/v1/connections/{pk}/", {"name": "Renamed"}, content_type="application/json"
    )
    assert (
        patched.status_code == 409
        and "can no longer be edited" in patched.json()["error"]["message"]
    )
    checked = admin.post(f"/api/v1/connections/{pk}/check/")
    assert (
        checked.status_code == 409
        and "can no longer be tested" in checked.json()["error"]["message"]
    )
    with acme.activate():
        assert SyncRun.objects.filter(status__in=SyncRun.ACTIVE).count() == 0
        assert Customer.objects.filter(source="listsource").count() == 2
        assert Connection.objects.get(pk=pk).name != "Renamed"


def test_the_api_disconnects_the_same_way_and_asks_for_the_choice(
    acme, feed, django_capture_on_commit_callbacks
):
    pk = _synced_with_an_import_beside_it(acme, feed)
    admin = acme.client("admin")
    url = f"/api/v1/connections/{pk}/"
    unanswered = admin.delete(url)
    assert unanswered.status_code == 400
    assert "keep_data=true" in unanswered.json()["error"]["message"]
    assert admin.delete(url + "?keep_data=maybe").status_code == 400
    with django_capture_on_commit_callbacks() as sent:
        answer = admin.delete(url + "?keep_data=false")
    assert answer.status_code == 202
    state = {
        "status": "removing",
        "datasets_done": 0,
        "datasets_total": len(DATASETS),
        "deleted": {},
        "error": "",
    }
    body = answer.json()
    assert (body["source"], body["keep_data"]) == ("listsource", False)
    assert {k: v for k, v in body["disconnect"].items() if k != "asked_at"} == state
    assert admin.get(url).json()["disconnect"] == body["disconnect"]
    assert admin.get("/api/v1/connections/").json()[0]["disconnect"] == body["disconnect"]
    with django_capture_on_commit_callbacks() as sent_again:
        again = admin.delete(url + "?keep_data=false")  # joins it
    assert again.status_code == 202 and again.json() == body
    assert (len(sent), len(sent_again)) == (1, 0)
    assert remove_queued(acme, pk) == "done: 4 records deleted"
    assert admin.get(url).status_code == 404
    with acme.activate():
        recompute_pending()
        assert stored_values("mrr")[MAR].value == Decimal(100)
