"""What the connection pages do, the API does: the schedule and its next sync, a run's own
endpoint for live progress, refused values of every field kind, disconnecting while a sync
runs, and all of it in the OpenAPI schema."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import psycopg
import pytest
import yaml
from django.core.management import call_command
from django.utils import timezone

from kpiplatform.connectors import sync
from kpiplatform.connectors.models import Connection, SyncRun
from kpiplatform.testing.processes import database_url_for_subprocess

KEY = "lsk_" + uuid.uuid4().hex


@pytest.fixture
def feed(tmp_path):
    path = tmp_path / "feed.json"
    pages = [
        {"records": {"customers": [{"external_id": f"c{n}", "country": "FR"}]}} for n in (1, 2)
    ]
    path.write_text(json.dumps({"key": KEY, "pages": pages}))
    return path


def create(company, feed, **overrides):
    body = {
        "connector": "listsource",
        "config": {"feed": str(feed)},
        "secrets": {"api_key": KEY},
        "schedule_minutes": 60,
        **overrides,
    }
    return company.client("admin").post(
        "/api/v1/connections/", body, content_type="application/json"
    )


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"schedule_minutes": 2}, "schedule_minutes", "0 (only when asked) or between 5"),
        ({"schedule_minutes": 99999}, "schedule_minutes", "and 10080 minutes (a week)"),
        ({"schedule_minutes": -1}, "schedule_minutes", "greater than or equal to 0"),
        ({"config": {"feed": "f", "archived": "yes"}}, "config", "archived: must be true or false"),
        ({"config": {"feed": "f", "region": "mars"}}, "config", "region: 'mars' is not one of"),
        ({"config": {"feed": 7}}, "config", "feed: must be a string."),
        ({"secrets": {"api_key": 7}}, "secrets", "api_key: must be a string."),
    ],
)
def test_bad_values_are_refused_naming_the_field(acme, feed, overrides, field, message):
    response = create(acme, feed, **overrides)
    assert response.status_code == 400, response.content
    assert message in " ".join(response.json()["error"]["fields"][field])
    assert KEY not in response.content.decode()
    with acme.activate():
        assert not Connection.objects.exists()


def test_every_field_kind_is_stored_and_the_form_describes_its_choices(acme, feed):
    created = create(
        acme, feed, config={"feed": str(feed), "archived": True, "region": "us"}
    ).json()
    assert created["config"] == {"feed": str(feed), "archived": True, "region": "us"}
    connectors = acme.client().get("/api/v1/connectors/").json()
    (connector,) = [c for c in connectors if c["key"] == "listsource"]
    region = next(f for f in connector["config_fields"] if f["name"] == "region")
    assert region["kind"] == "choice"
    assert region["choices"] == [["eu", "Europe"], ["us", "United States"]]


def test_the_next_scheduled_sync_follows_the_schedule(acme, feed):
    created = create(acme, feed, schedule_minutes=30).json()
    url = f"/api/v1/connections/{created['id']}/"
    client = acme.client()
    assert created["next_sync_at"] == created["created_at"]  # never synced: due now
    with acme.activate():
        sync.start(Connection.objects.get())
    assert client.get(url).json()["next_sync_at"] is None  # one is on its way
    with acme.activate():
        sync.run(created["id"])
        began = timezone.now() - timedelta(minutes=10)
        SyncRun.objects.update(started_at=began)
    due = client.get(url).json()["next_sync_at"]
    assert due == (began + timedelta(minutes=30)).isoformat().replace("+00:00", "Z")
    assert (
        client.patch(url, {"schedule_minutes": 0}, content_type="application/json").json()[
            "next_sync_at"
        ]
        is None
    )


def test_a_runs_own_endpoint_gives_its_progress_and_only_for_its_connection(acme, globex, feed):
    created = create(acme, feed).json()
    base = f"/api/v1/connections/{created['id']}/"
    client = acme.client()
    run = client.post(base + "sync/").json()["run"]
    queued = client.get(f"{base}runs/{run['id']}/").json()
    assert (queued["status"], queued["pages"], queued["counts"]) == ("queued", 0, {})
    with acme.activate():
        sync.run(created["id"])
    done = client.get(f"{base}runs/{run['id']}/").json()
    assert (done["status"], done["pages"], done["progress"]) == ("succeeded", 2, "page 2 of 2")
    assert done["counts"] == {"customers": {"read": 2, "written": 2, "deleted": 0}}
    assert (
        client.get(f"/api/v1/connections/{created['id'] + 1}/runs/{run['id']}/").status_code == 404
    )
    assert globex.client().get(f"{base}runs/{run['id']}/").status_code == 404
    assert acme.client("viewer").get(f"{base}runs/{run['id']}/").status_code == 403


def test_a_disconnect_while_a_sync_runs_is_refused_with_a_message(acme, feed):
    created = create(acme, feed).json()
    key = f"kpiplatform.connectors.sync:{acme.schema_name}:{created['id']}"
    url = f"/api/v1/connections/{created['id']}/"
    with psycopg.connect(database_url_for_subprocess(), autocommit=True) as worker:
        worker.execute("SELECT pg_advisory_lock(hashtext(%s))", [key])  # a sync running
        answer = acme.client().delete(url + "?keep_data=false")
        page = acme.client().post(f"/connections/{created['id']}/disconnect/", {"data": "keep"})
    assert answer.status_code == 409
    assert answer.json()["error"] == {
        "code": "sync_running",
        "message": "A sync of this connection is running: wait for it to finish, then disconnect.",
    }
    assert page.status_code == 409
    assert "wait for it to finish" in page.content.decode()
    with acme.activate():
        assert Connection.objects.exists()


def test_the_openapi_schema_lists_every_connection_endpoint(tmp_path, db):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--file", str(target))
    paths = yaml.safe_load(target.read_text())["paths"]
    for path, method in [
        ("/api/v1/connectors/", "get"),
        ("/api/v1/connections/", "post"),
        ("/api/v1/connections/{id}/", "patch"),
        ("/api/v1/connections/{id}/", "delete"),
        ("/api/v1/connections/{id}/check/", "post"),
        ("/api/v1/connections/{id}/sync/", "post"),
        ("/api/v1/connections/{id}/runs/", "get"),
        ("/api/v1/connections/{connection_pk}/runs/{id}/", "get"),
    ]:
        assert method in paths[path], (path, method)
    delete = paths["/api/v1/connections/{id}/"]["delete"]
    (keep_data,) = [p for p in delete["parameters"] if p["name"] == "keep_data"]
    assert keep_data["required"] is True and keep_data["schema"]["type"] == "boolean"
