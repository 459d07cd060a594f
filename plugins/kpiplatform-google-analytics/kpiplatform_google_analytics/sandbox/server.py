"""A local stand-in for the Google Analytics Data API (v1beta), for tests and the demo.

It answers ``POST /v1beta/properties/{id}:runReport`` over seeded rows (``report.py``), with
the API's error bodies (``{"error": {"code", "message", "status"}}``, the only shape
google-api-core turns into the right exception) and switchable faults. Authentication is the
self-signed JWT that google-auth makes from a service-account key (the official client asks
for it): the bearer token's issuer is the account; a registered account's signature is
verified with its public key, an unregistered one is accepted unless accounts are registered.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from google.auth import jwt

from .report import Property, ReportError, run_report

RUN_REPORT = re.compile(r"^/v1beta/properties/([^/:]+):runReport$")
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
}
FAULT_MESSAGES = {
    429: "Exhausted property tokens per hour for this property.",
    500: "Internal error encountered.",
    502: "Bad gateway.",
    503: "The service is currently unavailable.",
}


@dataclass
class Fault:
    """The answer of the next request instead of its report."""

    status: int
    retry_after: str | None = None

    def message(self) -> str:
        return FAULT_MESSAGES.get(self.status, "Error.")


@dataclass
class Served:
    """One request the sandbox answered (kept for tests to read)."""

    path: str
    body: dict
    status: int
    answer: str


class SandboxState:
    """Everything the server answers from, shared by its threads under one lock."""

    def __init__(self, seed: dict, today: dt.date | None = None) -> None:
        self.lock = threading.Lock()
        self.properties = {
            pid: Property.from_seed(prop) for pid, prop in seed.get("properties", {}).items()
        }
        self.accounts: dict[str, str] = {
            a["client_email"]: a["public_key"] for a in seed.get("serviceAccounts", [])
        }
        self.revoked: set[str] = set()
        self.faults: deque[Fault] = deque()
        self.malformed_after: int | None = None  # reports answered well before one malformed
        self.served: list[Served] = []
        self.fixed_today = today

    def today(self) -> dt.date:
        return self.fixed_today or dt.datetime.now(dt.UTC).date()

    def authenticate(self, header: str, property_id: str) -> None:
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        try:
            claims = jwt.decode(token, verify=False)
        except (ValueError, TypeError):
            raise ReportError(
                401,
                "UNAUTHENTICATED",
                "Request is missing required authentication credential. Expected OAuth 2 "
                "access token, login cookie or other valid authentication credential.",
            ) from None
        account = claims.get("iss", "")
        if account in self.accounts:
            try:
                jwt.decode(token, certs=self.accounts[account], verify=True)
            except (ValueError, TypeError):
                raise ReportError(
                    401, "UNAUTHENTICATED", "Request had invalid authentication credentials."
                ) from None
        elif self.accounts:
            raise ReportError(
                401, "UNAUTHENTICATED", "Request had invalid authentication credentials."
            )
        if account in self.revoked or property_id not in self.properties:
            raise ReportError(
                403,
                "PERMISSION_DENIED",
                "User does not have sufficient permissions for this property. To learn more "
                "about Property ID, see https://developers.google.com/analytics/devguides/"
                "reporting/data/v1/property-id.",
            )

    def answer(self, path: str, headers, body: dict) -> tuple[int, dict, dict]:
        """(status, extra headers, JSON body) for one request."""
        match = RUN_REPORT.match(path)
        if not match:
            raise ReportError(404, "NOT_FOUND", f"The requested URL {path} was not found.")
        property_id = match.group(1)
        with self.lock:
            if self.faults:
                fault = self.faults.popleft()
                extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                status = STATUS_NAMES.get(fault.status, "UNKNOWN")
                return fault.status, extra, error_body(fault.status, status, fault.message())
            self.authenticate(headers.get("Authorization", ""), property_id)
            report = run_report(self.properties[property_id], body, self.today())
            if self.malformed_after is not None:
                if self.malformed_after == 0:
                    self.malformed_after = None
                    for row in report.get("rows", []):
                        row["metricValues"][0]["value"] = "12,5x"
                else:
                    self.malformed_after -= 1
            return 200, {}, report


def error_body(code: int, status: str, message: str) -> dict:
    return {"error": {"code": code, "message": message, "status": status}}


class Handler(BaseHTTPRequestHandler):
    server: SandboxServer
    protocol_version = "HTTP/1.1"
    # Headers and body are two writes: with Nagle's algorithm on, a body that fits in one
    # segment waits for the client's delayed ACK of the headers (40 ms on Linux).
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        state = self.server.state
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            status, extra, answer = 400, {}, error_body(400, "INVALID_ARGUMENT", "Bad JSON.")
            body = {}
        else:
            try:
                path = urlsplit(self.path).path  # the client adds ?$alt=json;enum-encoding=int
                status, extra, answer = state.answer(path, self.headers, body)
            except ReportError as exc:
                status, extra, answer = exc.code, {}, error_body(exc.code, exc.status, exc.message)
        text = json.dumps(answer)
        with state.lock:
            state.served.append(Served(self.path, body, status, text))
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        data = json.dumps(error_body(404, "NOT_FOUND", "Not found.")).encode()
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # quiet: tests read ``served``
        pass


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, state: SandboxState) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.state = state
