"""``manage.py run`` (what ``make run`` calls): serves, supervises its children, stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from kpiplatform.testing.processes import database_url_for_subprocess

ROOT = Path(__file__).resolve().parent.parent
BANNER = "kpiplatform is running"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Run:
    """A ``manage.py run`` in the background, its output in a file."""

    def __init__(self, tmp_path: Path):
        self.port = free_port()
        self.log = tmp_path / "run.log"
        env = {k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"}
        env.update(
            DATABASE_URL=database_url_for_subprocess(),
            KPI_PORT=str(self.port),
            KPI_VAR_DIR=str(tmp_path),  # filesystem broker and beat schedule in here
            KPI_SIGNUP_POOL_SIZE="0",  # spare schemas would outlive the test
            PYTHONUNBUFFERED="1",
        )
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "run", "--noreload"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text()

    def wait_for_banner(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while BANNER not in self.output():
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, self.output()
            time.sleep(0.3)

    def children(self) -> dict[str, psutil.Process]:
        """The web, worker and beat processes, by name."""
        named = {}
        for child in psutil.Process(self.process.pid).children():
            command = " ".join(child.cmdline())
            for name in ("runserver", "worker", "beat"):
                if name in command:
                    named[name] = child
        return named

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def run(standing_companies, tmp_path):
    running = Run(tmp_path)
    try:
        yield running
    finally:
        leftovers = running.descendants() if running.process.poll() is None else []
        running.stop()
        for process in leftovers:
            if process.is_running():
                process.kill()


def get(port: int, path: str, host: str) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read().decode()


@pytest.mark.slow
def test_run_serves_the_landing_page_and_ctrl_c_stops_every_process(run):
    run.wait_for_banner()
    output = run.output()
    assert f"http://localhost:{run.port}/signup/" in output
    assert f"http://<slug>.localhost:{run.port}/" in output
    assert "Database         DATABASE_URL postgres://" in output
    assert "Celery broker    filesystem" in output
    status, page = get(run.port, "/", "localhost")
    assert status == 200 and "Create your company" in page
    status, _ = get(run.port, "/login/", f"acme.localhost:{run.port}")
    assert status == 200
    children = run.children()
    assert set(children) == {"runserver", "worker", "beat"}
    everything = run.descendants()

    run.process.send_signal(signal.SIGINT)
    assert run.process.wait(30) == 0, run.output()
    _, alive = psutil.wait_procs(everything, timeout=5)
    assert alive == []


@pytest.mark.slow
def test_run_stops_the_others_and_fails_when_a_child_dies(run):
    run.wait_for_banner()
    children = run.children()
    everything = run.descendants()
    children["beat"].kill()
    assert run.process.wait(30) == 1
    assert "beat exited with code" in run.output()
    _, alive = psutil.wait_procs(everything, timeout=5)
    assert alive == []
