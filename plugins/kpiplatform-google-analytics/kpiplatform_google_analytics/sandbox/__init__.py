"""A local Google Analytics Data API for tests and the demo: ``Sandbox(seed).start()``.

Start it in-process on a free port (``with Sandbox(seed) as sandbox: sandbox.url``), or from a
shell with ``python -m kpiplatform_google_analytics.sandbox --port N --seed FILE``. Tests
switch faults on (``fail_next``, ``malform_report``, ``revoke``) and change the data while it
runs (``set_row`` revises or adds a row, ``add_day`` adds a day).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

from .report import Property
from .server import Fault, SandboxServer, SandboxState, Served

__all__ = ["Sandbox", "Served", "new_service_account"]


class Sandbox:
    """The sandbox server over ``seed`` (a dict, or the path of a seed file)."""

    def __init__(self, seed: dict | str | Path, port: int = 0, today: dt.date | None = None):
        if not isinstance(seed, dict):
            seed = json.loads(Path(seed).read_text())
        self.state = SandboxState(seed, today=today)
        self.server = SandboxServer(port, self.state)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Sandbox:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- faults -------------------------------------------------------------------------

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next ``times`` reports with ``status`` (429 RESOURCE_EXHAUSTED, 500,
        503...) and that ``Retry-After``."""
        with self.state.lock:
            self.state.faults.extend(Fault(status, retry_after) for _ in range(times))

    def malform_report(self, after: int = 0) -> None:
        """Answer well ``after`` more reports, then one whose first metric is not a number."""
        with self.state.lock:
            self.state.malformed_after = after

    def revoke(self, client_email: str) -> None:
        """Take the service account's access to every property away (403 PERMISSION_DENIED)."""
        with self.state.lock:
            self.state.revoked.add(client_email)

    def register_account(self, client_email: str, public_key_pem: str) -> None:
        """Accept only registered accounts, with signatures checked against their keys."""
        with self.state.lock:
            self.state.accounts[client_email] = public_key_pem

    # --- data ---------------------------------------------------------------------------

    def report_property(self, property_id: str) -> Property:
        return self.state.properties[property_id]

    def set_row(
        self, property_id: str, day: dt.date, group: str, campaign: str, **metrics: object
    ) -> None:
        """Revise (or add) the row of a day, channel group and campaign."""
        with self.state.lock:
            self.state.properties[property_id].set_row(day, group, campaign, **metrics)

    def remove_row(self, property_id: str, day: dt.date, group: str, campaign: str) -> None:
        """GA4 no longer reports the row (revised away)."""
        with self.state.lock:
            del self.state.properties[property_id].rows[(day, group, campaign)]

    def add_day(self, property_id: str, day: dt.date, rows: dict[tuple[str, str], dict]) -> None:
        """Add a day: ``rows`` maps (channel group, campaign) to its metrics."""
        with self.state.lock:
            for (group, campaign), metrics in rows.items():
                self.state.properties[property_id].set_row(day, group, campaign, **metrics)

    @property
    def served(self) -> list[Served]:
        with self.state.lock:
            return list(self.state.served)


def new_service_account(client_email: str = "kpi-reader@sandbox-project.iam.gserviceaccount.com"):
    """A service-account key file's content (dict) with a fresh RSA key, and its public key
    in PEM, as Google's console makes them."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    project = client_email.split("@", 1)[1].split(".", 1)[0]
    info = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "0" * 40,
        "private_key": private_pem,
        "client_email": client_email,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "universe_domain": "googleapis.com",
    }
    return info, public_pem
