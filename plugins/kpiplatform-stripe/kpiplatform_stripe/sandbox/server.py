"""The sandbox's HTTP server: the Stripe endpoints the connector uses, over a :class:`Store`.

- ``GET /v1/<resource>`` lists newest first with ``limit``, ``starting_after``,
  ``ending_before`` and ``has_more``; subscriptions leave out canceled ones unless
  ``status=all`` (or that status); invoices filter by ``subscription``, ``customer`` and
  ``status``; events by ``type``, ``types[]`` and ``created[gt|gte|lt|lte]``.
- ``GET /v1/<resource>/<id>`` retrieves one object (404 with Stripe's error body if none).
- ``Authorization: Bearer <key>``: only the sandbox's keys pass; a revoked one gets 401.
- Faults a test switches on (:class:`Faults`): 429 with ``Retry-After``, 5xx, a malformed page.
- A latency added to every answer (``latency_s``, off by default).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from kpiplatform_stripe.sandbox.store import RESOURCES, Store

ENDED = {"canceled", "incomplete_expired"}


@dataclass
class Fault:
    status: int  # 429, 500, 503..., 200 for a malformed page, 0 to stall until released
    path_prefix: str = "/v1/"
    retry_after: str | None = None
    times: int = 1
    waiting: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.released.set()


@dataclass
class Faults:
    pending: deque = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fault: Fault) -> None:
        with self.lock:
            self.pending.append(fault)

    def take(self, path: str) -> Fault | None:
        with self.lock:
            for fault in list(self.pending):
                if path.startswith(fault.path_prefix):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.pending.remove(fault)
                    return fault
        return None


def _query(raw: str) -> dict:
    """Stripe's form encoding: ``types[0]=a&types[1]=b``, ``created[gte]=1``, ``expand[]=x``."""
    out: dict = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        match = re.fullmatch(r"([a-z_]+)\[([a-z_]*|\d+)\]", key)
        if match is None:
            out[key] = value
            continue
        name, sub = match.groups()
        if sub == "" or sub.isdigit():
            out.setdefault(name, []).append(value)
        else:
            out.setdefault(name, {})[sub] = value
    return out


def _filtered(resource: str, objects: list[dict], query: dict) -> list[dict]:
    if resource == "subscriptions":
        status = query.get("status")
        if status != "all":
            objects = [
                o
                for o in objects
                if (o["status"] == status if status else o["status"] not in ENDED)
            ]
        if query.get("customer"):
            objects = [o for o in objects if o["customer"] == query["customer"]]
    elif resource == "invoices":
        if query.get("subscription"):
            objects = [
                o
                for o in objects
                if ((o.get("parent") or {}).get("subscription_details") or {}).get("subscription")
                == query["subscription"]
            ]
        for key in ("customer", "status"):
            if query.get(key):
                objects = [o for o in objects if o.get(key) == query[key]]
    elif resource == "events":
        types = query.get("types") or ([query["type"]] if query.get("type") else None)
        if types:
            wanted = set(types)
            objects = [o for o in objects if o["type"] in wanted]
    created = query.get("created")
    if isinstance(created, dict):
        for op, bound in created.items():
            b = int(bound)
            test = {"gt": b.__lt__, "gte": b.__le__, "lt": b.__gt__, "lte": b.__ge__}[op]
            objects = [o for o in objects if test(o["created"])]
    elif created:
        objects = [o for o in objects if o["created"] == int(created)]
    return objects


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, store: Store, keys: set[str], latency_s: float = 0) -> None:
        super().__init__(address, Handler)
        self.latency_s = latency_s  # slept before every answer (each request has a thread)
        self.store = store
        self.keys = keys  # accepted API keys
        self.revoked: set[str] = set()
        self.faults = Faults()
        self.requests: list[str] = []  # every path served (for tests and benches)
        self.requests_lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"
    # Headers and body are two writes: with Nagle's algorithm on, a body that fits in one
    # segment waits for the client's delayed ACK of the headers (40 ms on Linux).
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # quiet: never log request lines (keys in headers)
        pass

    def _send(self, status: int, body: dict | bytes, headers: dict | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", "req_sandbox")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, kind: str, message: str, headers: dict | None = None, **extra):
        self._send(status, {"error": {"type": kind, "message": message, **extra}}, headers)

    def do_POST(self):  # the connector never writes to Stripe
        self._error(405, "invalid_request_error", "The sandbox is read-only over HTTP.")

    def do_GET(self):
        if self.server.latency_s:
            time.sleep(self.server.latency_s)
        url = urlsplit(self.path)
        with self.server.requests_lock:
            self.server.requests.append(url.path)
        auth = self.headers.get("Authorization", "")
        key = auth.removeprefix("Bearer ").strip()
        if key in self.server.revoked:
            return self._error(
                401, "invalid_request_error", "This API key has been revoked (expired key)."
            )
        if key not in self.server.keys:
            return self._error(401, "invalid_request_error", "Invalid API Key provided.")
        fault = self.server.faults.take(url.path)
        if fault is not None and fault.status == 0:  # hold the request, then answer it
            fault.waiting.set()
            fault.released.wait(120)
            fault = None
        if fault is not None:
            if fault.status == 200:
                return self._send(200, b'{"object": "list", "data": [{"id": "cus_')
            if fault.status == 429:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return self._error(
                    429,
                    "invalid_request_error",
                    "Too many requests.",
                    headers,
                    code="rate_limit",
                )
            return self._error(fault.status, "api_error", "Something went wrong on Stripe's end.")
        parts = [p for p in url.path.split("/") if p]
        if len(parts) < 2 or parts[0] != "v1" or parts[1] not in RESOURCES:
            return self._error(
                404, "invalid_request_error", f"Unrecognized request URL (GET: {url.path})."
            )
        resource = parts[1]
        store = self.server.store
        if len(parts) == 2:
            query = _query(url.query)
            from kpiplatform_stripe.sandbox.store import page

            with store.lock:
                whole = store.lists[resource]
                objects = _filtered(resource, whole, query)
                positions = store.positions(resource) if objects is whole else None
                body = page(objects, query, f"/v1/{resource}", positions)
                data = json.dumps(body).encode()
            return self._send(200, data)
        if len(parts) == 3:
            obj = store.get(resource, parts[2])
            if obj is None:
                return self._error(
                    404,
                    "invalid_request_error",
                    f"No such {resource[:-1]}: '{parts[2]}'",
                    code="resource_missing",
                    param="id",
                )
            with store.lock:
                data = json.dumps(obj).encode()
            return self._send(200, data)
        return self._error(
            404, "invalid_request_error", f"Unrecognized request URL (GET: {url.path})."
        )
