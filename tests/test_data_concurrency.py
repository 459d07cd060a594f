"""Concurrent writes of the same records, on real connections in two threads, never deadlock.

The writes must commit to be seen by another connection, so these tests write into the
standing company ``acme`` outside a test transaction and empty its tables afterwards.
"""

from __future__ import annotations

import contextlib
import io
import threading

import pytest
from django.db import connection

from kpiplatform.celery import app
from kpiplatform.data.importing import import_file
from kpiplatform.data.models import Payment
from kpiplatform.data.writer import PAGE_SIZE, BulkWriter
from kpiplatform.testing.data import empty_company_tables

ROWS = 2 * PAGE_SIZE  # two pages: the first of each import is written before the second


class PausingUpload(io.RawIOBase):
    """An upload that arrives in two parts, like a client pausing on a slow network.

    After the first part, it waits (at most ``pause_s``) until every upload sharing the
    ``barrier`` has sent its first part too.
    """

    def __init__(self, first: bytes, second: bytes, barrier: threading.Barrier) -> None:
        self._parts = [first, second]
        self._barrier = barrier

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while self._parts and not self._parts[0]:
            self._parts.pop(0)
            if self._parts:
                # Broken: the other import is waiting for this one to finish; carry on.
                with contextlib.suppress(threading.BrokenBarrierError):
                    self._barrier.wait()
        if not self._parts:
            return b""
        part = self._parts[0]
        size = len(part) if size is None or size < 0 else size
        chunk, self._parts[0] = part[:size], part[size:]
        return chunk


def payments_csv(ids: list[int]) -> tuple[bytes, bytes]:
    header = "external_id,occurred_at,amount_minor,currency\n"
    lines = [f"p{i},2025-01-01T10:00:00Z,{i},USD\n" for i in ids]
    return (header + "".join(lines[:PAGE_SIZE])).encode(), "".join(lines[PAGE_SIZE:]).encode()


@pytest.fixture
def committed_acme(standing_companies, django_db_blocker):
    acme = standing_companies["acme"]
    eager = app.conf.task_always_eager
    # The imports commit: their recompute runs in their thread instead of a broker's queue.
    app.conf.task_always_eager = True
    try:
        with django_db_blocker.unblock():
            yield acme
            with acme.activate():
                empty_company_tables()
    finally:
        app.conf.task_always_eager = eager
        connection.set_schema_to_public()


def run_in_threads(acme, jobs: dict) -> dict:
    results: dict[str, object] = {}

    def run(name, job) -> None:
        try:
            with acme.activate():
                results[name] = job()
        except Exception as exc:
            results[name] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in jobs.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_two_imports_of_the_same_ids_in_opposite_order_both_succeed(committed_acme):
    ids = list(range(ROWS))
    barrier = threading.Barrier(2, timeout=3)
    uploads = {
        "ascending": PausingUpload(*payments_csv(ids), barrier),
        "descending": PausingUpload(*payments_csv(ids[::-1]), barrier),
    }
    results = run_in_threads(
        committed_acme,
        {
            name: (lambda upload=upload: import_file("payments", upload, "csv", 10**9))
            for name, upload in uploads.items()
        },
    )
    assert not [r for r in results.values() if isinstance(r, Exception)], results
    # One import inserted everything; the other, taking its turn, found it all there.
    counts = sorted((r.inserted, r.updated, r.unchanged) for r in results.values())
    assert counts == [(0, 0, ROWS), (ROWS, 0, 0)]
    with committed_acme.activate():
        assert Payment.objects.count() == ROWS


@pytest.mark.parametrize("attempt", range(3))
def test_two_writers_of_the_same_page_in_opposite_order_both_succeed(committed_acme, attempt):
    """The connectors' path: each page its own transaction, rows locked in key order."""
    ids = list(range(PAGE_SIZE))

    def records(order, amount):
        return [
            {
                "external_id": f"p{i}",
                "occurred_at": "2025-01-01T10:00:00+00:00",
                "amount_minor": amount,
                "currency": "USD",
            }
            for i in order
        ]

    with committed_acme.activate():
        BulkWriter("sync").upsert("payments", records(ids, 0))  # both update every row
    barrier = threading.Barrier(2, timeout=10)

    def write(order, amount):
        rows = records(order, amount)
        barrier.wait()
        return BulkWriter("sync").upsert("payments", rows)

    results = run_in_threads(
        committed_acme,
        {"ascending": lambda: write(ids, 1), "descending": lambda: write(ids[::-1], 2)},
    )
    assert results == {"ascending": PAGE_SIZE, "descending": PAGE_SIZE}
