"""A sync on a real Celery worker (the configured broker; Redis in CI): through the API, and
a worker SIGKILLed in the middle of a sync resumes from the stored cursor on redelivery."""

from __future__ import annotations

import json
import os
import signal
import uuid
from pathlib import Path

import pytest
from django.db import connection

from kpiplatform.connectors.models import SyncRun
from kpiplatform.data.models import Customer
from kpiplatform.testing.companies import create_test_company
from kpiplatform.testing.processes import child_pids, start_celery_worker, wait_until

REQUIRE_SERVICES = os.environ.get("KPI_REQUIRE_SERVICES") == "1"
KEY = "lsk_" + uuid.uuid4().hex
PAGES = [[{"external_id": f"c{page}{n}", "country": "DE"} for n in range(3)] for page in range(4)]


@pytest.mark.worker
def test_a_worker_killed_mid_sync_resumes_from_the_cursor_without_losing_or_repeating_a_row(
    standing_companies, django_db_blocker, task_queue, tmp_path
):
    release = tmp_path / "release"
    feed = tmp_path / "feed.json"
    feed.write_text(
        json.dumps(
            {
                "key": KEY,
                "pages": [{"records": {"customers": page}} for page in PAGES],
                "stall_on_page": 2,
                "release_file": str(release),
                "served_log": str(tmp_path / "served.log"),
            }
        )
    )
    slug = f"w{uuid.uuid4().hex[:10]}"
    with django_db_blocker.unblock():
        company = create_test_company(slug)
        connection.set_schema_to_public()
        worker = start_celery_worker(
            task_queue,
            tmp_path / "worker.log",
            env={"CELERY_TASK_DEFAULT_QUEUE": task_queue},
            pool="prefork",
        )
        try:
            client = company.client("admin")
            created = client.post(
                "/api/v1/connections/",
                {
                    "connector": "listsource",
                    "config": {"feed": str(feed)},
                    "secrets": {"api_key": KEY},
                    "schedule_minutes": 0,
                },
                content_type="application/json",
            ).json()
            url = f"/api/v1/connections/{created['id']}/"
            started = client.post(url + "sync/")
            assert started.status_code == 202

            def stored() -> list[str]:
                with company.activate():
                    return sorted(Customer.objects.values_list("external_id", flat=True))

            wait_until(Path(f"{release}.waiting").exists, worker, "the sync to reach page 2")
            assert stored() == sorted(r["external_id"] for r in PAGES[0] + PAGES[1])
            live = client.get(url + "runs/").json()["results"][0]
            assert (live["status"], live["pages"], live["progress"]) == (
                "running",
                2,
                "page 2 of 4",
            )
            again = client.post(url + "sync/")
            assert again.status_code == 409
            assert again.json()["run"]["id"] == started.json()["run"]["id"]

            (pool_process,) = child_pids(worker.pid)
            os.kill(pool_process, signal.SIGKILL)
            release.write_text("go")

            def finished() -> bool:
                with company.activate():
                    return SyncRun.objects.get().status == SyncRun.Status.SUCCEEDED

            wait_until(finished, worker, "the redelivered sync")
            runs = client.get(url + "runs/").json()["results"]
            answer = client.get(url).json()
            everything = stored()
            with company.activate():
                rows = Customer.objects.count()
        finally:
            output = worker.stop()
            connection.set_schema_to_public()
            company.company.delete(force_drop=True)
    assert f"pid:{pool_process} exited with 'signal 9 (SIGKILL)'" in output, output
    assert everything == sorted(r["external_id"] for page in PAGES for r in page)
    assert rows == 12  # no duplicates
    # Pages 0 and 1 were read once: the redelivered task began at the stored cursor.
    assert (tmp_path / "served.log").read_text().split() == ["0", "1", "2", "3"]
    (run,) = runs  # the same run, resumed
    assert run["pages"] == 4
    assert run["counts"] == {"customers": {"read": 12, "written": 12, "deleted": 0}}
    assert answer["state"] == {"next_page": 4}
    assert answer["health"] == "ok"
    assert KEY not in output  # nor in the worker's log
