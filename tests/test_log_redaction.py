"""No raw secret of an invitation, password-reset or hand-over link reaches a log line.

Each flow is driven to its end (and its link replayed, which Django logs as a 4xx with the
path), in-process through the configured log handlers, and over HTTP through the two servers
we run: runserver (``make run``) and gunicorn exactly as ``docker/compose.yaml`` starts it.
Everything they print is searched for the raw secrets. The runserver test also counts the
database connections it keeps open.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from django.core.cache import cache
from django.db import connection

from kpiplatform.accounts import handover, services
from kpiplatform.accounts.models import Invitation, LoginHandover, User
from kpiplatform.testing.processes import database_url_for_subprocess

ROOT = Path(__file__).resolve().parent.parent
NEW_PASSWORD = "lantern-orchid-quartz-5120"
REDACTED = "[redacted]"


# --- in-process: every handler of settings.LOGGING -----------------------------------------


@pytest.fixture
def log_lines():
    """Everything the configured log handlers write while the test runs, at DEBUG level."""
    captured = io.StringIO()
    swapped = []
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            ours = type(handler).__module__.startswith("_pytest")
            if isinstance(handler, logging.StreamHandler) and not ours:
                swapped.append((handler, handler.setStream(captured)))
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    try:
        yield captured
    finally:
        root.setLevel(level)
        for handler, stream in swapped:
            handler.setStream(stream)
    assert swapped, "no configured log handler found"


def link_in(message, path: str) -> str:
    return re.search(rf"https?://\S+{path}\S*", message.body).group(0)


def test_no_secret_of_the_three_links_reaches_a_log_line(acme, mailoutbox, log_lines):
    cache.clear()  # reset e-mails are limited per account
    # Invitation: sent, opened, accepted, replayed (410) and a made-up one (404).
    acme.client("admin").post("/team/invite/", {"email": "nia@example.test", "role": "admin"})
    invitation = urlsplit(link_in(mailoutbox[-1], "/invitations/accept/")).path
    visitor = acme.client(role=None)
    visitor.get(invitation)
    visitor.post(
        invitation,
        {"first_name": "Nia", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert acme.client(role=None).get(invitation).status_code == 410
    made_up = f"/invitations/accept/{secrets.token_urlsafe(32)}/"
    assert acme.client(role=None).get(made_up).status_code == 404

    # Password reset: asked, opened, a new password set, replayed.
    acme.client(role=None).post("/password-reset/", {"email": "viewer@acme.test"})
    reset = urlsplit(link_in(mailoutbox[-1], "/password-reset/")).path
    form = visitor.get(reset, follow=True)
    visitor.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    acme.client(role=None).get(reset)

    # Hand-over: redeemed, replayed (400).
    with acme.activate():
        ticket_url = handover.issue_handover_url(acme.schema_name, acme.slug, acme.user("admin"))
    ticket = urlsplit(ticket_url)
    acme.client(role=None).get(f"{ticket.path}?{ticket.query}")
    assert acme.client(role=None).get(f"{ticket.path}?{ticket.query}").status_code == 400

    lines = log_lines.getvalue()
    assert f"Gone: /invitations/accept/{REDACTED}/" in lines  # the lines are there...
    for secret in (
        invitation.split("/")[-2],
        made_up.split("/")[-2],
        reset.split("/")[-2],
        urllib.parse.parse_qs(ticket.query)["ticket"][0],
    ):
        assert secret not in lines  # ...without the secrets


# --- over HTTP: runserver and gunicorn -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_command(port: int) -> list[str]:
    """compose.yaml's web command, on a free local port with one worker."""
    command = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())["services"]["web"][
        "command"
    ]
    kept, skip = [], False
    for arg in command:
        if skip:
            skip = False
        elif arg in ("--bind", "-b", "--workers", "-w"):
            skip = True
        else:
            kept.append(arg)
    assert kept[0] == "gunicorn", command
    return [str(Path(sys.executable).parent / "gunicorn"), *kept[1:], "--bind",
            f"127.0.0.1:{port}", "--workers", "1"]  # fmt: skip


def runserver_command(port: int) -> list[str]:
    return [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]


class Server:
    """A server process on the test database; what it prints goes to a file."""

    def __init__(self, command: list[str], port: int, tmp_path: Path, app_name: str):
        self.port = port
        self.log = tmp_path / "server.log"
        self.mail_dir = tmp_path / "mail"
        self.mail_dir.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KPI_", "DEBUG"))}
        env.update(
            DATABASE_URL=database_url_for_subprocess(),
            DEBUG="1",
            EMAIL_URL=f"filemail:///{self.mail_dir}",  # an absolute path: four slashes
            KPI_VAR_DIR=str(tmp_path),
            KPI_SIGNUP_POOL_SIZE="0",
            PGAPPNAME=app_name,  # libpq names this server's connections
            PYTHONUNBUFFERED="1",
        )
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, self.output()
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                return
            time.sleep(0.2)

    def output(self) -> str:
        return self.log.read_text()

    def last_mail(self) -> str:
        newest = max(self.mail_dir.iterdir(), key=lambda path: path.stat().st_mtime)
        return newest.read_text()

    def stop(self) -> str:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        return self.output()


class Browser:
    """urllib with cookies and a Host header: a visitor of one company host."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def __init__(self, port: int, host: str):
        self.base, self.host = f"http://127.0.0.1:{port}", host
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), self._NoRedirect
        )

    def request(self, path: str, data: dict | None = None, referer: str | None = None):
        headers = {"Host": self.host}
        if referer:
            headers["Referer"] = f"http://{self.host}{referer}"
        body = None
        if data is not None:
            token = next(c.value for c in self.cookies if c.name == "csrftoken")
            body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": token}).encode()
        request = urllib.request.Request(self.base + path, data=body, headers=headers)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read().decode()


def idle_connections(app_name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [app_name]
        )
        return cursor.fetchone()[0]


@pytest.mark.parametrize("server", ["runserver", "gunicorn"])
def test_servers_log_no_secret_of_the_three_links(
    server, standing_companies, django_db_blocker, mailoutbox, tmp_path
):
    acme = standing_companies["acme"]
    marker = secrets.token_hex(4)
    port = free_port()
    app_name = f"kpi-log-test-{marker}"
    command = runserver_command(port) if server == "runserver" else gunicorn_command(port)
    invited, resetting = f"invited-{marker}@example.test", f"reset-{marker}@example.test"
    with django_db_blocker.unblock():
        # Committed: the server is another process.
        with acme.activate():
            admin = acme.user("admin")
            User.objects.create_user(email=resetting, password="old-password-9931")
            services.invite(acme.company, admin, invited, "admin")
            ticket_url = handover.issue_handover_url(acme.schema_name, acme.slug, admin)
        connection.set_schema_to_public()
        invitation = urlsplit(link_in(mailoutbox[-1], "/invitations/accept/")).path
        ticket = urlsplit(ticket_url)
        handover_path = f"{ticket.path}?{ticket.query}"
        running = Server(command, port, tmp_path, app_name)
        try:
            browser = Browser(port, acme.host)
            # Invitation: opened, accepted, then a page with it as the referrer, replayed.
            assert browser.request(invitation)[0] == 200
            accepted = browser.request(
                invitation,
                {"first_name": "Nia", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
            )
            assert accepted[0] == 302, accepted[2][:2000]
            assert browser.request("/", referer=invitation)[0] == 200
            assert Browser(port, acme.host).request(invitation)[0] == 410

            # Password reset: asked (the e-mail goes to a file), opened, new password, replayed.
            visitor = Browser(port, acme.host)
            visitor.request("/password-reset/")
            assert visitor.request("/password-reset/", {"email": resetting})[0] == 302
            reset = urlsplit(re.search(r"https?://\S+/password-reset/\S+/", running.last_mail())[0])
            status, headers, _ = visitor.request(reset.path)
            assert status == 302, status
            set_password = headers["Location"]
            visitor.request(set_password, referer=reset.path)
            done = visitor.request(
                set_password, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
            )
            assert done[0] == 302, done[2][:2000]
            assert "invalid" in Browser(port, acme.host).request(reset.path)[2]

            # Hand-over: redeemed, then replayed.
            assert Browser(port, acme.host).request(handover_path)[0] == 302
            assert Browser(port, acme.host).request(handover_path)[0] == 400

            # More requests, each on a thread of its own under runserver.
            for _ in range(30):
                assert Browser(port, acme.host).request("/login/")[0] == 200
            time.sleep(0.5)
            kept_open = idle_connections(app_name)
        finally:
            output = running.stop()
            with acme.activate():
                User.objects.filter(email__in=[invited, resetting]).delete()
                Invitation.objects.filter(email=invited).delete()
                LoginHandover.objects.filter(used_at__isnull=False).delete()
            connection.set_schema_to_public()

    secrets_in_links = {
        "invitation": invitation.split("/")[-2],
        "password reset": reset.path.split("/")[-2],
        "hand-over": urllib.parse.parse_qs(ticket.query)["ticket"][0],
    }
    leaked = [name for name, secret in secrets_in_links.items() if secret in output]
    assert not leaked, f"{shlex.join(command)} logged {leaked}:\n{output}"
    assert f"/invitations/accept/{REDACTED}/" in output, output  # the request lines are there
    assert f"ticket={REDACTED}" in output, output
    if server == "runserver":
        # One thread per request: with persistent connections each would leave one open.
        assert kept_open <= 1, f"{kept_open} connections left open after 40 requests"
