"""Browser tests: the app served on a live server, driven through Debian's Chromium.

The browser is ``/usr/bin/chromium`` (Debian's package, installed by ``.ci/run``) driven by
Playwright's Python package; nothing downloads a browser. Chromium resolves every
``*.localhost`` name to loopback, so a company is reached at ``http://<slug>.localhost:<port>``
and django-tenants routes it by host as in production.

Each test's screenshots are saved under ``var/test-artefacts/screenshots/<test>/`` (git-ignored
with ``var/``), one per step, numbered in the order taken.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTEFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artefacts" / "screenshots"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def require_chromium() -> Path:
    """Debian's Chromium, or a failure under ``KPI_REQUIRE_SERVICES=1`` (a skip otherwise)."""
    if CHROMIUM.exists():
        return CHROMIUM
    message = f"{CHROMIUM} is missing: install Debian's chromium package (`.ci/run` does)"
    if os.environ.get("KPI_REQUIRE_SERVICES") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@dataclass
class LiveServer:
    port: int

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture(scope="session")
def live_app(test_database, django_db_blocker) -> Iterator[LiveServer]:
    """The app served by a thread of this process on a free loopback port, static files
    included (vega's among them). Unlike pytest-django's ``live_server`` it never flushes
    the database, which would wipe the standing companies: tests commit their own rows in a
    company of their own and drop it afterwards. Each request thread opens its own database
    connection, so the server sees committed rows only."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.servers.basehttp import ThreadedWSGIServer
    from django.test.testcases import LiveServerThread

    class JoinedThreadsServer(ThreadedWSGIServer):
        # A request thread holds its database connection until its (keep-alive) socket
        # closes: closing the server waits for them, so none is left open when the test
        # database is dropped. The browsers are closed by then, and so are their sockets.
        daemon_threads = False
        block_on_close = True

    class ServerThread(LiveServerThread):
        server_class = JoinedThreadsServer

    with django_db_blocker.unblock():
        server = ServerThread("127.0.0.1", StaticFilesHandler, port=0)
        server.daemon = True
        server.start()
        server.is_ready.wait()
        if server.error:
            raise server.error
        yield LiveServer(server.port)
        server.terminate()


@contextlib.contextmanager
def launched_chromium() -> Iterator[object]:
    """A headless Chromium, for as long as the block runs.

    Playwright's sync API keeps an event loop running in the test's thread while it is
    started, and Django's ORM refuses to run in a thread with a running loop. The tests' own
    queries never run concurrently with that loop, so the check is turned off for as long as
    the browser runs, and only then: the ``chromium`` fixture gives one browser per test, and
    a module whose tests all drive a browser may share one (a module-scoped ``chromium``)."""
    executable = require_chromium()
    from django.db import connections
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(executable))
            try:
                yield browser
            finally:
                browser.close()
                # While the loop runs, Django keeps connections per async context rather
                # than per thread: the ones opened meanwhile are closed here, or they would
                # keep the test database from being dropped.
                connections.close_all()


@pytest.fixture
def chromium() -> Iterator[object]:
    """A headless Chromium for one test (:func:`launched_chromium`)."""
    with launched_chromium() as browser:
        yield browser


@dataclass
class Screenshots:
    """Numbered full-page screenshots of one test's steps."""

    folder: Path
    taken: list[Path] = field(default_factory=list)

    def take(self, page, step: str) -> Path:
        name = f"{len(self.taken) + 1:02d}-{re.sub(r'[^a-z0-9]+', '-', step.lower()).strip('-')}"
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


@pytest.fixture
def screenshots(request) -> Screenshots:
    folder = ARTEFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return Screenshots(folder)


@dataclass
class BrowserErrors:
    """What went wrong in the page: uncaught errors and console errors."""

    messages: list[str] = field(default_factory=list)


@pytest.fixture
def browser_page(chromium) -> Iterator[tuple[object, BrowserErrors]]:
    """A fresh browser context (no cookies) at laptop size and its page, with the page's
    uncaught errors and console errors collected."""
    context = chromium.new_context(viewport=LAPTOP, accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = BrowserErrors()
    page.on("pageerror", lambda error: errors.messages.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            errors.messages.append(f"console: {message.text}") if message.type == "error" else None
        ),
    )
    yield page, errors
    context.close()


@pytest.fixture
def own_company(standing_companies, django_db_blocker) -> Iterator[object]:
    """A company of the test's own, committed (the live server reads it through its own
    connections) and dropped afterwards. Recomputes run eagerly in the test's process, as a
    worker would run them."""
    import uuid

    from django.db import connection

    from kpiplatform.celery import app
    from kpiplatform.testing.companies import create_test_company

    slug = f"b{uuid.uuid4().hex[:10]}"
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    with django_db_blocker.unblock():
        company = create_test_company(slug, "Browser Test Co")
        try:
            connection.set_schema_to_public()
            yield company
        finally:
            app.conf.task_always_eager = eager
            connection.set_schema_to_public()
            company.company.delete(force_drop=True)
