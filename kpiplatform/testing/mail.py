"""A real SMTP server on loopback (aiosmtpd) for tests of e-mail, with gates to hold it at a
step of the SMTP exchange (a test kills a worker there)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller


@dataclass
class Gate:
    """Holds the server at one step (``ehlo`` or ``data``) the first ``times`` times it is
    reached, until ``release()``."""

    step: str
    times: int = 1
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.released.set()


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def _pass(self, step: str) -> None:
        gate = self.sink.gates.get(step)
        if gate is not None and gate.times > 0:
            gate.times -= 1
            gate.reached.set()
            await asyncio.get_running_loop().run_in_executor(None, gate.released.wait, 60)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        await self._pass("ehlo")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.sink.refused:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        # Recorded first: what the server has taken, whatever happens to the client after.
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.sink.lock:
            self.sink.received.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        await self._pass("data")
        return "250 Message accepted for delivery"


class SmtpSink:
    """The messages an SMTP server on ``127.0.0.1:port`` accepted."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], EmailMessage]] = []
        self.gates: dict[str, Gate] = {}
        self.refused: set[str] = set()
        self.lock = threading.Lock()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def refuse(self, address: str) -> None:
        """Answer 550 to ``RCPT TO`` this address."""
        self.refused.add(address.lower())

    def hold_at(self, step: str, times: int = 1) -> Gate:
        gate = Gate(step, times)
        self.gates[step] = gate
        return gate

    @property
    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [message for _, _, message in self.received]

    def wait_for(self, count: int, timeout_s: float = 30) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout_s
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.controller.start()
    try:
        yield sink
    finally:
        for gate in sink.gates.values():
            gate.release()
        sink.controller.stop()


@contextmanager
def sending_to(sink: SmtpSink, settings) -> Iterator[None]:
    """Django's SMTP backend pointed at ``sink`` (``settings``: pytest-django's fixture)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield
