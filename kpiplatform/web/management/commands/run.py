"""``manage.py run``: everything on one machine, in one terminal (what ``make run`` calls).

Prepares the database (migrations of every schema, the public company, the signup pool),
starts the connectors' local sandboxes and connects the demo company to them (with DEBUG on),
then runs the web server, a Celery worker and Celery beat as child processes until Ctrl-C.
With ``DATABASE_URL`` unset, ``manage.py`` starts the embedded PostgreSQL before this command
runs, and its URL is handed to the children, so all three share it; it stops when this
command exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from kpiplatform import embedded
from kpiplatform.connectors import demo_sandboxes
from kpiplatform.tenants import provisioning
from kpiplatform.tenants.models import Company, Domain

DEMO_SEED_COMMAND = "seed_demo"
STOP_GRACE_SECONDS = 10.0


class Command(BaseCommand):
    help = "Migrate, then serve web + Celery worker + Celery beat until Ctrl-C."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--port",
            type=int,
            default=int(os.environ.get("KPI_PORT", "8000")),
            help="web port (default: KPI_PORT or 8000)",
        )
        parser.add_argument(
            "--noreload", action="store_true", help="do not restart the web server on code edits"
        )

    def handle(self, *args, port: int, noreload: bool, **options) -> None:
        if "KPI_PUBLIC_PORT" not in os.environ:
            settings.KPI_PUBLIC_PORT = str(port)  # links printed here use the served port
        self.prepare_database()
        sandboxes = self.start_demo_sandboxes()
        try:
            self.seed_demo_company()
            connection.close()  # the children open their own connections
            children = self.start_children(port, noreload)
        except BaseException:
            demo_sandboxes.stop(sandboxes)
            raise
        # Supervised with the others: one stopping stops everything.
        children.update({f"{s.key} sandbox": s.process for s in sandboxes})
        # The banner last, so it is not buried under the children's start-up output.
        wait_until_listening(port, children)
        self.print_banner(port)
        if supervise(children, self.stderr):
            raise CommandError("a process stopped unexpectedly; stopped the others", returncode=1)
        self.stdout.write("Stopped.")

    # --- preparation --------------------------------------------------------------------------
    def prepare_database(self) -> None:
        self.stdout.write("Migrating the shared schema and every company schema...")
        call_command("migrate_schemas", interactive=False, verbosity=0)
        ensure_public_company()
        created = provisioning.fill_pool()
        if created:
            self.stdout.write(f"Signup pool: {created} spare schema(s) prepared.")

    def start_demo_sandboxes(self) -> list[demo_sandboxes.RunningSandbox]:
        """With DEBUG on, each connector's sandbox with its seed (made once in the var folder);
        the children inherit the settings that point the connectors at them."""
        self.sandbox_seeds = None
        if not settings.DEBUG:
            return []
        connectors = demo_sandboxes.demo_connectors()
        if not connectors:
            return []
        self.sandbox_seeds = settings.VAR_DIR / "demo-sandboxes"
        made = demo_sandboxes.generate_seeds(self.sandbox_seeds, connectors)
        if made:
            self.stdout.write(f"Demo sandbox data generated: {', '.join(made)}.")
        running = demo_sandboxes.start(self.sandbox_seeds, connectors)
        os.environ.update(demo_sandboxes.addresses(running))
        self.sandbox_lines = [
            f"  {s.key + ' sandbox':<16} {s.url}  (demo data, {s.demo.address_variable})"
            for s in running
        ]
        return running

    def seed_demo_company(self) -> None:
        """Prepare the demo company; what it returns goes into the banner."""
        self.demo_line = ""
        if DEMO_SEED_COMMAND in get_commands():
            self.stdout.write("Preparing the demo company...")
            options = {"sandbox_seeds": self.sandbox_seeds} if self.sandbox_seeds else {}
            self.demo_line = call_command(DEMO_SEED_COMMAND, **options) or ""

    # --- child processes ----------------------------------------------------------------------
    def start_children(self, port: int, noreload: bool) -> dict[str, subprocess.Popen]:
        env = {
            **os.environ,
            # The resolved URL: with the embedded server, the children attach to this one.
            "DATABASE_URL": settings.DATABASE_URL,
            "KPI_VAR_DIR": str(settings.VAR_DIR),
            # Links to company hosts (signup hand-over, e-mails) use the port served here.
            "KPI_PUBLIC_PORT": os.environ.get("KPI_PUBLIC_PORT", str(port)),
            "PYTHONUNBUFFERED": "1",
        }
        python = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        celery = [python, "-m", "celery", "-A", "kpiplatform"]
        commands = {
            "web": [python, manage, "runserver", f"0.0.0.0:{port}"]
            + (["--noreload"] if noreload else []),
            "worker": [*celery, "worker", "--loglevel=INFO", "--concurrency=2"],
            "beat": [*celery, "beat", "--loglevel=INFO"],
        }
        children: dict[str, subprocess.Popen] = {}
        try:
            for name, command in commands.items():
                # Own process group each: Ctrl-C reaches only this command, which then stops
                # the children in order (and runserver's reloader child with its parent).
                children[name] = subprocess.Popen(  # noqa: S603 (our own fixed commands)
                    command, env=env, cwd=settings.BASE_DIR, start_new_session=True
                )
        except BaseException:
            stop(children)
            raise
        return children

    def print_banner(self, port: int) -> None:
        base = settings.KPI_BASE_DOMAIN
        lines = [
            "",
            "kpiplatform is running (Ctrl-C stops everything):",
            f"  Landing page     http://{base}:{port}/",
            f"  Sign up          http://{base}:{port}/signup/",
            f"  Your company     http://<slug>.{base}:{port}/",
            *([self.demo_line] if self.demo_line else []),
            *getattr(self, "sandbox_lines", []),
            f"  Database         {describe_database()}",
            f"  Celery broker    {describe_broker()}",
            f"  Sent e-mail      {describe_mail()}",
            "",
        ]
        self.stdout.write("\n".join(lines))


def wait_until_listening(port: int, children: dict[str, subprocess.Popen]) -> None:
    """Return once the web server accepts connections (or a child died, or 120 s passed: a
    first start on a slow machine imports and checks everything before it listens)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children.values()):
            return
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            time.sleep(1.0)  # let the worker and beat finish their banners too
            return
        time.sleep(0.2)


def ensure_public_company() -> Company:
    """The public schema's company row and its domain (normally made by a migration)."""
    public, _ = Company.objects.get_or_create(
        schema_name="public",
        defaults={"name": "kpiplatform", "slug": None, "state": Company.State.ACTIVE},
    )
    Domain.objects.get_or_create(
        domain=settings.KPI_BASE_DOMAIN, defaults={"tenant": public, "is_primary": True}
    )
    return public


def describe_database() -> str:
    if embedded.EMBEDDED_DATA_VARIABLE in os.environ:
        return f"embedded PostgreSQL, data in {os.environ[embedded.EMBEDDED_DATA_VARIABLE]}"
    return f"DATABASE_URL {without_password(settings.DATABASE_URL)}"


def describe_broker() -> str:
    if "CELERY_BROKER_URL" not in os.environ:
        return f"filesystem, messages in {settings.VAR_DIR / 'broker'}"
    return f"CELERY_BROKER_URL {without_password(settings.CELERY_BROKER_URL)}"


def describe_mail() -> str:
    if settings.EMAIL_BACKEND == "kpiplatform.mail.EmlFileBackend":
        return f"one .eml file per message in {settings.EMAIL_FILE_PATH} (open in a mail program)"
    if settings.EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend":
        return f"SMTP {settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
    return settings.EMAIL_BACKEND


def without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def supervise(children: dict[str, subprocess.Popen], stderr) -> int:
    """Wait until Ctrl-C/SIGTERM (return 0) or until a child dies (return 1); stop them all."""
    stop_requested: list[int] = []

    def request_stop(signum, frame) -> None:
        stop_requested.append(signum)

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    try:
        while not stop_requested:
            dead = [name for name, child in children.items() if child.poll() is not None]
            if dead:
                for name in dead:
                    stderr.write(f"{name} exited with code {children[name].returncode}.")
                code = 1
                break
            time.sleep(0.2)
    finally:
        stop(children)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code


def stop(children: dict[str, subprocess.Popen]) -> None:
    """SIGTERM each child (warm shutdown for Celery), then kill whatever is left of its group."""
    for name, child in children.items():
        if child.poll() is None:
            if name == "web":
                _signal_group(child, signal.SIGTERM)  # runserver's reloader and its server
            else:
                child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in children.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
    for child in children.values():
        _signal_group(child, signal.SIGKILL)  # pool processes or anything else left behind
        child.wait()


def _signal_group(child: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, sig)
