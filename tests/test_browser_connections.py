"""Browser test: an admin connects a source through its form, presses "Sync now" and watches
the run's progress (htmx polling the page's fragment) reach "succeeded" on a real Celery
worker, then finds the run in the history; the page also fits a phone."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest
from django.db import connection

from kpiplatform.testing.browser import PHONE
from kpiplatform.testing.companies import PASSWORD
from kpiplatform.testing.processes import start_celery_worker, wait_until

KEY = "lsk_" + uuid.uuid4().hex
PAGES = [
    [{"external_id": f"c{page}{n}", "name": f"Customer {page}{n}", "country": "FR"} for n in (1, 2)]
    for page in range(3)
]


@pytest.mark.worker
def test_connect_a_source_sync_now_and_watch_it_succeed(
    own_company, live_app, browser_page, screenshots, task_queue, django_db_blocker, tmp_path
):
    from kpiplatform.celery import app

    app.conf.task_always_eager = False  # the sync runs on the worker, as in production
    release = tmp_path / "release"
    feed = tmp_path / "feed.json"
    feed.write_text(
        json.dumps(
            {
                "key": KEY,
                "pages": [{"records": {"customers": page}} for page in PAGES],
                # The sync waits before its second page until the test lets it go, so that
                # the page is seen mid-run.
                "stall_on_page": 1,
                "release_file": str(release),
            }
        )
    )
    company = own_company
    page, errors = browser_page
    progress_requests: list[float] = []
    page.on(
        "request",
        lambda request: (
            progress_requests.append(time.monotonic()) if "/progress/" in request.url else None
        ),
    )
    with django_db_blocker.unblock():
        worker = start_celery_worker(
            task_queue, tmp_path / "worker.log", env={"CELERY_TASK_DEFAULT_QUEUE": task_queue}
        )
    try:
        # The worker starts while the browser logs in and fills the form.
        page.goto(live_app.url(company.host, "/login/"))
        page.get_by_label("E-mail").fill(company.email("admin"))
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(live_app.url(company.host, "/"))

        page.get_by_role("link", name="Connections", exact=True).click()
        page.get_by_role("link", name="Connect List source (test)").click()
        page.get_by_label("Name").fill("Shop feed")
        page.get_by_label("Feed file").fill(str(feed))
        page.get_by_label("API key").fill(KEY)
        page.get_by_label("Include archived records").check()
        page.get_by_label("Region").select_option("eu")
        page.get_by_label("Sync schedule").select_option(label="Only when asked (sync now)")
        screenshots.take(page, "connection form filled")
        page.get_by_role("button", name="Connect").click()
        page.wait_for_url(re.compile(r"/connections/\d+/$"))
        assert "Connection added." in page.content()
        assert "Not synced yet" in page.content()
        screenshots.take(page, "connection added")

        wait_until(lambda: " ready." in worker.log(), worker, "the worker to be ready")
        page.get_by_role("button", name="Sync now").focus()
        page.keyboard.press("Enter")  # with the keyboard alone
        page.wait_for_url(re.compile(r"/connections/\d+/$"))
        progress = page.locator("#sync-progress")
        # Polled: the run is running, one page stored, while the worker waits.
        progress.get_by_text("running").wait_for(timeout=60_000)
        progress.get_by_text("1 page stored · page 1 of 3").wait_for(timeout=30_000)
        assert (tmp_path / "release.waiting").exists()
        screenshots.take(page, "sync running")
        release.write_text("go")

        progress.get_by_text(re.compile(r"Run \d+: succeeded")).wait_for(timeout=60_000)
        finished_at = time.monotonic()
        assert "3 pages stored · page 3 of 3" in progress.inner_text()
        counts = progress.locator("table.counts tbody tr").first.inner_text().split()
        assert counts == ["customers", "6", "6", "0"]
        history = page.locator("#run-history table.runs tbody tr")
        assert history.count() == 1
        row = history.first.inner_text()
        assert "manual" in row and "succeeded" in row
        assert "customers: 6 read, 6 written, 0 deleted" in row
        facts = page.locator("#connection-facts").inner_text()
        assert "A sync is running" not in facts and "Working" in facts
        screenshots.take(page, "sync succeeded and in the history")

        page.wait_for_timeout(2500)  # polling has stopped: no request since it finished
        assert [t for t in progress_requests if t > finished_at + 0.5] == []
        assert len(progress_requests) >= 2  # it did poll while the run went on

        page.get_by_role("link", name="← Connections").click()
        listing = page.locator("table.connections").inner_text()
        assert "Shop feed" in listing and "Working" in listing and "Only when asked" in listing

        page.set_viewport_size(PHONE)
        page.get_by_role("link", name="Shop feed").click()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], width  # wide tables scroll inside their card
        screenshots.take(page, "connection on a phone")
        assert KEY not in page.content()
    finally:
        with django_db_blocker.unblock():
            output = worker.stop()
            connection.set_schema_to_public()
    assert KEY not in output
    assert errors.messages == []
