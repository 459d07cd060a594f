"""Disconnecting a source and deleting what it brought, on a real Celery worker: from the
page, with the progress shown while the worker is held mid-way and the worker SIGKILLed
there (the redelivered task finishes it); and from the API, stopped by a row another
transaction holds, shown in words, then retried from the page. Each ends with nothing of the
source left in any dataset, the KPIs recomputed on what remains, and the other source and
the other company untouched."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import uuid
from decimal import Decimal

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from kpiplatform.connectors.models import Connection
from kpiplatform.data.models import DATASETS, Customer, MrrSegment
from kpiplatform.kpis.models import PendingChange
from kpiplatform.testing.companies import create_test_company
from kpiplatform.testing.data import load_records
from kpiplatform.testing.kpis import configure_company, stored_values
from kpiplatform.testing.processes import (
    child_pids,
    database_url_for_subprocess,
    start_celery_worker,
    wait_until,
)

KEY = "lsk_" + uuid.uuid4().hex
MAR = dt.date(2025, 3, 1)
TOTAL = len(DATASETS)
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
                },
                {
                    "external_id": "seg-L2",
                    "customer_ref": "L2",
                    "starts_on": "2025-02-01",
                    "mrr_minor": 5000,
                    "currency": "EUR",
                },
            ],
        }
    }
]
# Another source's records beside the connection's: I1 at 100 EUR from January.
IMPORTED_CUSTOMER = {"external_id": "I1", "name": "Ida", "country": "FR"}
IMPORTED_SEGMENT = {
    "external_id": "seg-I1",
    "customer_ref": "I1",
    "starts_on": "2025-01-01",
    "mrr_minor": 10000,
    "currency": "EUR",
}


def march_mrr(company) -> Decimal | None:
    with company.activate():
        value = stored_values("mrr").get(MAR)
        settled = not PendingChange.objects.exists()
    connection.set_schema_to_public()
    return value.value if value is not None and settled else None


def records_by_source(company) -> dict[str, dict[str, int]]:
    """Every dataset's record count per source (tombstones included)."""
    counts: dict[str, dict[str, int]] = {}
    with company.activate():
        for dataset, model in DATASETS.items():
            for source in model.objects.values_list("source", flat=True):
                counts.setdefault(source, {}).setdefault(dataset, 0)
                counts[source][dataset] += 1
    connection.set_schema_to_public()
    return counts


def synced_beside_an_import(company, feed, worker) -> int:
    """A listsource connection synced on the worker beside imported records; March's MRR is
    350 (I1 100 + L1 200 + L2 50) once the worker has recomputed."""
    with company.activate():
        configure_company("EUR")
        load_records("customers", [IMPORTED_CUSTOMER])
        load_records("mrr_segments", [IMPORTED_SEGMENT])
    connection.set_schema_to_public()
    client = company.client("admin")
    created = client.post(
        "/api/v1/connections/",
        {
            "connector": "listsource",
            "name": "Shop",
            "config": {"feed": str(feed)},
            "secrets": {"api_key": KEY},
            "schedule_minutes": 0,
        },
        content_type="application/json",
    ).json()
    assert client.post(f"/api/v1/connections/{created['id']}/sync/").status_code == 202
    wait_until(lambda: march_mrr(company) == Decimal(350), worker, "the sync and its recompute")
    return created["id"]


def hold_a_segment_of_the_source(holder: psycopg.Connection, company) -> None:
    """Lock seg-L1 in ``holder``'s open transaction, as a long write of it would: the purge
    reaches it at its fourth dataset (mrr_segments) and waits."""
    holder.execute(
        sql.SQL(
            "SELECT 1 FROM {}.data_mrr_segments WHERE source = 'listsource' "
            "AND external_id = 'seg-L1' FOR UPDATE"
        ).format(sql.Identifier(company.schema_name))
    )


def purge_waiting_for_the_held_row() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE '%%DELETE FROM%%data_mrr_segments%%'"
        )
        return cursor.fetchone()[0] == 1


def connection_gone(company, pk: int) -> bool:
    with company.activate():
        gone = not Connection.objects.filter(pk=pk).exists()
    connection.set_schema_to_public()
    return gone


def assert_nothing_of_the_source_is_left(company) -> None:
    assert records_by_source(company) == {
        "import": {"customers": 1, "mrr_segments": 1},
    }
    with company.activate():
        assert Customer.objects.get().external_id == "I1"
        assert MrrSegment.objects.get().external_id == "seg-I1"
        assert stored_values("active_customers")[MAR].value == 1
    connection.set_schema_to_public()


@pytest.fixture
def feed(tmp_path):
    path = tmp_path / "feed.json"
    path.write_text(json.dumps({"key": KEY, "pages": PAGES}))
    return path


@pytest.mark.worker
def test_a_delete_disconnect_from_the_page_shows_its_progress_and_survives_a_killed_worker(
    standing_companies, django_db_blocker, task_queue, settings, feed, tmp_path
):
    settings.KPI_RECOMPUTE_DELAY_S = 0.2
    with django_db_blocker.unblock():
        shop = create_test_company(f"w{uuid.uuid4().hex[:10]}")
        other = create_test_company(f"w{uuid.uuid4().hex[:10]}")
        connection.set_schema_to_public()
        worker = start_celery_worker(
            task_queue,
            tmp_path / "worker.log",
            env={"CELERY_TASK_DEFAULT_QUEUE": task_queue, "KPI_RECOMPUTE_DELAY_S": "0.2"},
            pool="prefork",
        )
        try:
            pk = synced_beside_an_import(shop, feed, worker)
            # The other company has records under the same source name.
            with other.activate():
                load_records("customers", [{"external_id": "L1", "country": "DE"}], "listsource")
            connection.set_schema_to_public()
            other_before = records_by_source(other)
            admin = shop.client("admin")
            with psycopg.connect(database_url_for_subprocess()) as holder:
                hold_a_segment_of_the_source(holder, shop)
                asked = admin.post(f"/connections/{pk}/disconnect/", {"data": "delete"})
                assert (asked.status_code, asked["Location"]) == (302, f"/connections/{pk}/")
                wait_until(purge_waiting_for_the_held_row, worker, "the purge to reach seg-L1")
                progress = f"Disconnecting… 3 of {TOTAL} datasets removed, 2 records deleted"
                page = admin.get(f"/connections/{pk}/").content.decode()
                listed = admin.get("/connections/").content.decode()
                sync_refused = admin.post(f"/api/v1/connections/{pk}/sync/")
                (pool_process,) = child_pids(worker.pid)
                os.kill(pool_process, signal.SIGKILL)
                holder.rollback()
            wait_until(lambda: connection_gone(shop, pk), worker, "the redelivered removal")
            wait_until(lambda: march_mrr(shop) == Decimal(100), worker, "the recompute")
            gone = admin.get(f"/connections/{pk}/disconnect/progress/", HTTP_HX_REQUEST="true")
            assert_nothing_of_the_source_is_left(shop)
            other_after = records_by_source(other)
        finally:
            output = worker.stop()
            connection.set_schema_to_public()
            shop.company.delete(force_drop=True)
            other.company.delete(force_drop=True)
    assert f"pid:{pool_process} exited with 'signal 9 (SIGKILL)'" in output, output
    assert progress in page and f'hx-get="/connections/{pk}/disconnect/progress/"' in page
    assert progress in listed and 'hx-get="/connections/live/"' in listed
    assert sync_refused.status_code == 409
    assert sync_refused.json()["error"]["code"] == "disconnecting"
    assert gone["HX-Redirect"] == "/connections/"
    assert other_after == other_before == {"listsource": {"customers": 1}}
    assert "remove_connection" in output and "done: 4 records deleted" in output


@pytest.mark.worker
def test_a_delete_disconnect_through_the_api_stopped_by_a_held_row_says_why_and_is_retried(
    standing_companies, django_db_blocker, task_queue, settings, feed, tmp_path
):
    settings.KPI_RECOMPUTE_DELAY_S = 0.2
    with django_db_blocker.unblock():
        shop = create_test_company(f"w{uuid.uuid4().hex[:10]}")
        connection.set_schema_to_public()
        worker = start_celery_worker(
            task_queue,
            tmp_path / "worker.log",
            env={
                "CELERY_TASK_DEFAULT_QUEUE": task_queue,
                "KPI_RECOMPUTE_DELAY_S": "0.2",
                "KPI_DISCONNECT_LOCK_TIMEOUT_S": "0.5",
            },
        )
        try:
            pk = synced_beside_an_import(shop, feed, worker)
            admin = shop.client("admin")
            url = f"/api/v1/connections/{pk}/"
            with psycopg.connect(database_url_for_subprocess()) as holder:
                hold_a_segment_of_the_source(holder, shop)
                asked = admin.delete(url + "?keep_data=false")

                def stopped() -> dict | None:
                    state = admin.get(url).json()["disconnect"]
                    return state if state["status"] == "failed" else None

                failed = wait_until(stopped, worker, "the removal to stop on the held row")
                page = admin.get(f"/connections/{pk}/").content.decode()
                keep_refused = admin.delete(url + "?keep_data=true")
                holder.rollback()
            retried = admin.post(f"/connections/{pk}/disconnect/", {"data": "delete"})
            wait_until(lambda: admin.get(url).status_code == 404, worker, "the retried removal")
            wait_until(lambda: march_mrr(shop) == Decimal(100), worker, "the recompute")
            assert_nothing_of_the_source_is_left(shop)
        finally:
            worker.stop()
            connection.set_schema_to_public()
            shop.company.delete(force_drop=True)
    assert asked.status_code == 202
    assert asked.json()["disconnect"]["status"] == "removing"
    reason = (
        "Deleting the mrr_segments records waited more than 0.5 s for another write of them "
        "(an import under the same source name?) and stopped. Retry once it has finished."
    )
    assert failed["error"] == reason
    assert (failed["datasets_done"], failed["deleted"]) == (3, {"customers": 2})
    assert (
        f"Disconnecting stopped: {reason} So far 3 of {TOTAL} datasets removed, "
        "2 records deleted." in page
    )
    assert "Retry deleting its records" in page
    assert f"/connections/{pk}/disconnect/progress/" not in page  # polls no more
    assert keep_refused.status_code == 409
    assert (retried.status_code, retried["Location"]) == (302, f"/connections/{pk}/")
