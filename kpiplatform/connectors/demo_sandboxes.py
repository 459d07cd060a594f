"""The connectors' local sandboxes that feed the demo company of ``manage.py run``.

Each connector that declares ``demo`` (``sdk.DemoSandbox``) gets a seed file made once by its
generator (in dependency order: a generator may read another connector's seed), a sandbox
process serving it on a free loopback port, and, in the demo company, a connection whose
syncs go through the real connector and its official SDK to that sandbox.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from kpiplatform.connectors import sync
from kpiplatform.connectors.models import Connection
from kpiplatform.plugins import registry
from kpiplatform.sdk import Connector, DemoSandbox

READY_PREFIX = "listening on "
START_TIMEOUT_S = 30.0


class SandboxFailed(RuntimeError):
    """A demo sandbox could not be prepared or started (the reason in words)."""


@dataclass
class RunningSandbox:
    key: str
    demo: DemoSandbox
    process: subprocess.Popen
    url: str


def demo_connectors() -> list[Connector]:
    """The registered connectors with a demo sandbox, each after those whose seed it reads."""
    pending = {c.key: c for _, c in registry.connectors().values() if c.demo is not None}
    ordered: list[Connector] = []
    while pending:
        ready = [
            c for c in pending.values() if all(dep not in pending for _, dep in c.demo.seed_inputs)
        ]
        if not ready:
            raise SandboxFailed(f"demo seeds depend on each other in a circle: {sorted(pending)}")
        for connector in sorted(ready, key=lambda c: c.key):
            ordered.append(pending.pop(connector.key))
    return ordered


def seed_file(seed_dir: Path, key: str) -> Path:
    return seed_dir / f"{key}.json"


def generate_seeds(seed_dir: Path, connectors: list[Connector]) -> list[str]:
    """Write each connector's seed file unless it exists; return the keys generated now."""
    seed_dir.mkdir(parents=True, exist_ok=True)
    available = {c.key for c in connectors}
    made = []
    for connector in connectors:
        target = seed_file(seed_dir, connector.key)
        if target.exists():
            continue
        demo = connector.demo
        command = [sys.executable, "-m", demo.generator, "--out", str(target)]
        command += [arg.replace("{seed_dir}", str(seed_dir)) for arg in demo.generator_args]
        for option, key in demo.seed_inputs:
            if key in available:
                command += [option, str(seed_file(seed_dir, key))]
        partial = target.with_suffix(".partial.json")
        command[command.index(str(target))] = str(partial)
        result = subprocess.run(  # noqa: S603 (a module a connector declares, no shell)
            command, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise SandboxFailed(
                f"the {connector.name} demo generator failed: {result.stderr.strip()[-500:]}"
            )
        partial.rename(target)  # only a complete file counts as made
        made.append(connector.key)
    return made


def start(seed_dir: Path, connectors: list[Connector]) -> list[RunningSandbox]:
    """Start one sandbox process per connector; return once each said where it listens."""
    running: list[RunningSandbox] = []
    try:
        for connector in connectors:
            command = [
                sys.executable,
                "-m",
                connector.demo.sandbox,
                "--port",
                "0",
                "--seed",
                str(seed_file(seed_dir, connector.key)),
            ]
            process = subprocess.Popen(  # noqa: S603 (a module a connector declares, no shell)
                command,
                stdout=subprocess.PIPE,
                text=True,
                start_new_session=True,  # Ctrl-C reaches `run`, which stops it in order
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            url = _wait_ready(connector, process)
            running.append(RunningSandbox(connector.key, connector.demo, process, url))
    except BaseException:
        stop(running)
        raise
    return running


def _wait_ready(connector: Connector, process: subprocess.Popen) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith(READY_PREFIX):
            return line[len(READY_PREFIX) :].strip()
        if not line and process.poll() is not None:
            break
    process.kill()
    raise SandboxFailed(f"the {connector.name} sandbox did not start (no '{READY_PREFIX}...')")


def stop(running: list[RunningSandbox]) -> None:
    for sandbox in running:
        if sandbox.process.poll() is None:
            sandbox.process.terminate()
    for sandbox in running:
        try:
            sandbox.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sandbox.process.kill()


def addresses(running: list[RunningSandbox]) -> dict[str, str]:
    """The server settings that point each connector at its sandbox."""
    return {sandbox.demo.address_variable: sandbox.url for sandbox in running}


def connect(seed_dir: Path, connectors: list[Connector], schedule_minutes: int = 15) -> list:
    """In the current company, a connection per connector (made once, its secrets encrypted
    like any other) and its first sync queued; returns the connections made now."""
    made = []
    for connector in connectors:
        if Connection.objects.filter(connector=connector.key).exists():
            continue
        values = connector.demo.connection_config(seed_dir)
        secret_keys = {f.name for f in connector.config_fields if f.kind == "secret"}
        connection = Connection(
            connector=connector.key,
            name=f"{connector.name} (demo sandbox)",
            config={k: v for k, v in values.items() if k not in secret_keys},
            schedule_minutes=schedule_minutes,
        )
        connection.set_secrets({k: v for k, v in values.items() if k in secret_keys})
        connection.save()
        sync.start(connection)
        made.append(connection)
    return made
