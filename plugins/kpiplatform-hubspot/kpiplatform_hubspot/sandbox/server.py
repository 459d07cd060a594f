"""A local fake of the HubSpot CRM v3 API, enough for the connector and its tests.

It serves the objects of a seed file (``{"contacts": [...], "deals": [...],
"feedback_submissions": [...]}``, each object in HubSpot's own JSON shape: ``id``,
``properties``, ``createdAt``, ``updatedAt``, ``archived``, ``archivedAt``) through the
endpoints the connector calls, in the shapes the official ``hubspot-api-client`` parses:

- ``GET /crm/v3/objects/<type>`` (``limit`` <= 100, ``after``, ``properties``, ``archived``):
  objects in id order, ``paging.next.after`` while more follow;
- ``POST /crm/v3/objects/<type>/search``: filters (``EQ``, ``GT``, ``GTE``, ``LT``, ``LTE``)
  ANDed within a group and ORed between groups, sorts, ``limit`` <= 200 and ``after``;
  like HubSpot it stops at :attr:`Sandbox.search_cap` (10,000) results per query: a page
  past it answers 400, so a client must restart with ``hs_object_id`` above its last id;
- errors as HubSpot writes them (``{"status": "error", "message", "correlationId",
  "category"}``): 401 for an unknown or revoked token, 429 without ``Retry-After``.

Tests start it in-process (:meth:`Sandbox.start`), change its objects while it runs
(:meth:`Sandbox.add`, :meth:`Sandbox.modify`, :meth:`Sandbox.archive`) and switch faults on
(:meth:`Sandbox.fail_next`, :meth:`Sandbox.malform_next`).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

OBJECT_TYPES = ("contacts", "deals", "feedback_submissions")
# The property HubSpot keeps the last change in: contacts have their own name for it.
MODIFIED_PROPERTY = {"contacts": "lastmodifieddate"}
DEFAULT_MODIFIED_PROPERTY = "hs_lastmodifieddate"
LIST_LIMIT_MAX = 100
SEARCH_LIMIT_MAX = 200
SEARCH_CAP = 10_000


def modified_property(object_type: str) -> str:
    return MODIFIED_PROPERTY.get(object_type, DEFAULT_MODIFIED_PROPERTY)


def iso(moment: dt.datetime) -> str:
    """HubSpot's timestamp format: UTC with milliseconds and ``Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def parse_moment(value: Any) -> dt.datetime | None:
    """A HubSpot date value: epoch milliseconds (number or digits) or ISO 8601."""
    if value is None or value == "":
        return None
    text = str(value)
    if text.lstrip("-").isdigit():
        return dt.datetime.fromtimestamp(int(text) / 1000, dt.UTC)
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Fault:
    """An answer the sandbox gives instead of the real one, ``times`` times."""

    status: int
    times: int
    path: str  # a substring of the request path
    method: str | None
    malformed: bool = False
    skip: int = 0  # matching requests answered normally first


class Sandbox:
    """The fake's state: objects per type, accepted and revoked tokens, faults, a request log.

    ``tokens``: the accepted private-app tokens; empty accepts any token (the demo's case)
    except revoked ones.
    """

    def __init__(
        self,
        seed: dict[str, list[dict]] | None = None,
        tokens: tuple[str, ...] = (),
        search_cap: int = SEARCH_CAP,
        feedback_enabled: bool = True,
    ) -> None:
        seed = seed or {}
        self.objects: dict[str, dict[str, dict]] = {
            kind: {str(o["id"]): json.loads(json.dumps(o)) for o in seed.get(kind, [])}
            for kind in OBJECT_TYPES
        }
        self.tokens = set(tokens) | set(seed.get("access_tokens", []))
        self.revoked: set[str] = set()
        self.search_cap = search_cap
        self.feedback_enabled = feedback_enabled
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, int]] = []  # method, path, status answered
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        ids = [int(i) for objects in self.objects.values() for i in objects if i.isdigit()]
        self._next_id = max(ids, default=1000) + 1

    # -- running ---------------------------------------------------------------------------

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 (a free port by default) in a thread; return the base URL."""
        handler = type("Handler", (_Handler,), {"sandbox": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None, "the sandbox is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- changes and faults (for tests) ---------------------------------------------------

    def add(
        self, object_type: str, properties: dict, at: dt.datetime | None = None, id=None
    ) -> dict:
        """A new object, created and last modified at ``at`` (now by default)."""
        with self.lock:
            object_id = str(id or self._next_id)
            self._next_id = max(self._next_id, int(object_id) + 1)
            record = crm_object(object_type, object_id, properties, at or dt.datetime.now(dt.UTC))
            self.objects[object_type][object_id] = record
            return record

    def modify(
        self, object_type: str, object_id: str, properties: dict, at: dt.datetime | None = None
    ) -> dict:
        """Change properties of an object; its last-modified date becomes ``at`` (now)."""
        with self.lock:
            record = self.objects[object_type][str(object_id)]
            stamp = iso(at or dt.datetime.now(dt.UTC))
            record["properties"].update({k: _text(v) for k, v in properties.items()})
            record["properties"][modified_property(object_type)] = stamp
            record["updatedAt"] = stamp
            return record

    def archive(self, object_type: str, object_id: str, at: dt.datetime | None = None) -> None:
        """Archive (delete) an object: it leaves the lists and searches, and appears in the
        ``archived=true`` list."""
        with self.lock:
            record = self.objects[object_type][str(object_id)]
            record["archived"] = True
            record["archivedAt"] = iso(at or dt.datetime.now(dt.UTC))

    def revoke(self, token: str) -> None:
        with self.lock:
            self.revoked.add(token)
            self.tokens.discard(token)

    def fail_next(
        self,
        status: int,
        times: int = 1,
        path: str = "/crm/",
        method: str | None = None,
        skip: int = 0,
    ) -> None:
        """Answer ``times`` requests whose path contains ``path`` with ``status``, after
        ``skip`` of them answered normally (429 as HubSpot's rate limit, without
        Retry-After; 5xx as an internal error)."""
        with self.lock:
            self.faults.append(Fault(status, times, path, method, skip=skip))

    def malform_next(
        self, path: str = "/crm/", times: int = 1, method: str | None = None, skip: int = 0
    ) -> None:
        """Answer matching requests 200 with a page missing its ``results``."""
        with self.lock:
            self.faults.append(Fault(200, times, path, method, malformed=True, skip=skip))

    def count(self, method: str, path_contains: str) -> int:
        """How many requests of ``method`` whose path contains ``path_contains`` were answered."""
        with self.lock:
            return sum(1 for m, p, _ in self.requests if m == method and path_contains in p)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.path in path and (fault.method in (None, method)):
                    if fault.skip > 0:
                        fault.skip -= 1
                        return None
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    # -- the API ---------------------------------------------------------------------------

    def list_page(self, object_type: str, query: dict[str, list[str]]) -> dict:
        limit = min(int(query.get("limit", ["10"])[0]), LIST_LIMIT_MAX)
        archived = query.get("archived", ["false"])[0].lower() == "true"
        wanted = _wanted_properties(query.get("properties", []))
        after = query.get("after", [None])[0]
        with self.lock:
            candidates = sorted(
                (o for o in self.objects[object_type].values() if bool(o["archived"]) == archived),
                key=lambda o: int(o["id"]),
            )
            if after:
                candidates = [o for o in candidates if int(o["id"]) >= int(after)]
            page = candidates[:limit]
            results = [self._shape(object_type, o, wanted) for o in page]
            body: dict[str, Any] = {"results": results}
            if len(candidates) > limit:
                next_id = candidates[limit]["id"]
                body["paging"] = {
                    "next": {
                        "after": next_id,
                        "link": f"{self.url}/crm/v3/objects/{object_type}?after={next_id}",
                    }
                }
        return body

    def search(self, object_type: str, request: dict) -> tuple[int, dict]:
        limit = min(int(request.get("limit") or 10), SEARCH_LIMIT_MAX)
        offset = int(request.get("after") or 0)
        if offset >= self.search_cap:
            return 400, error_body(
                "VALIDATION_ERROR",
                f"The search can return at most {self.search_cap} results per query: there "
                f"are none after {offset}. Narrow the query (for example on hs_object_id).",
            )
        groups = request.get("filterGroups") or []
        wanted = _wanted_properties(request.get("properties") or [])
        with self.lock:
            matching = [
                o
                for o in self.objects[object_type].values()
                if not o["archived"] and (not groups or any(_matches(o, g) for g in groups))
            ]
            for sort in reversed(request.get("sorts") or [{"propertyName": "hs_object_id"}]):
                if isinstance(sort, str):
                    sort = {"propertyName": sort.lstrip("-"), "direction": "ASCENDING"}
                name = sort.get("propertyName", "hs_object_id")
                matching.sort(
                    key=lambda o, name=name: _sort_key(o, name),
                    reverse=sort.get("direction", "ASCENDING") == "DESCENDING",
                )
            page = matching[offset : min(offset + limit, self.search_cap)]
            body: dict[str, Any] = {
                "total": len(matching),
                "results": [self._shape(object_type, o, wanted) for o in page],
            }
            if offset + len(page) < len(matching):
                body["paging"] = {"next": {"after": str(offset + len(page))}}
        return 200, body

    def _shape(self, object_type: str, record: dict, wanted: list[str]) -> dict:
        # HubSpot answers the requested properties (null when unset) and a few it always
        # sends: the id and the created and modified dates.
        properties = record["properties"]
        always = ["hs_object_id", modified_property(object_type)]
        always.append(created_property(object_type))
        shaped = {name: properties.get(name) for name in [*always, *wanted]}
        answer = {
            "id": record["id"],
            "properties": shaped,
            "createdAt": record["createdAt"],
            "updatedAt": record["updatedAt"],
            "archived": bool(record["archived"]),
        }
        if record.get("archivedAt"):
            answer["archivedAt"] = record["archivedAt"]
        return answer

    def authorised(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        token = header[len("Bearer ") :]
        if not token or token in self.revoked:
            return False
        return not self.tokens or token in self.tokens


def created_property(object_type: str) -> str:
    return "hs_createdate" if object_type == "feedback_submissions" else "createdate"


def crm_object(
    object_type: str,
    object_id: str,
    properties: dict,
    created: dt.datetime,
    modified: dt.datetime | None = None,
) -> dict:
    """An object as HubSpot stores and answers it: string property values, the id and the
    created and last-modified dates among the properties too."""
    created_at, modified_at = iso(created), iso(modified or created)
    return {
        "id": object_id,
        "properties": {
            created_property(object_type): created_at,
            **{k: _text(v) for k, v in properties.items()},
            "hs_object_id": object_id,
            modified_property(object_type): modified_at,
        },
        "createdAt": created_at,
        "updatedAt": modified_at,
        "archived": False,
    }


def error_body(category: str, message: str, **extra: Any) -> dict:
    """An error as HubSpot writes it."""
    return {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }


def _text(value: Any) -> str | None:
    # HubSpot property values are strings (or null).
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return iso(value)
    return str(value)


def _wanted_properties(values: list[str]) -> list[str]:
    names: list[str] = []
    for value in values:
        names.extend(n for n in str(value).split(",") if n)
    return names


def _compare(actual: Any, operator: str, expected: Any) -> bool:
    if operator == "HAS_PROPERTY":
        return actual not in (None, "")
    if operator == "NOT_HAS_PROPERTY":
        return actual in (None, "")
    if actual is None:
        return False
    left, right = _comparable(actual), _comparable(expected)
    try:
        return {
            "EQ": left == right,
            "NEQ": left != right,
            "GT": left > right,
            "GTE": left >= right,
            "LT": left < right,
            "LTE": left <= right,
        }[operator]
    except KeyError:
        raise ValueError(f"unsupported operator {operator}") from None


def _comparable(value: Any) -> Any:
    text = str(value)
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        return int(parse_moment(text).timestamp() * 1000)
    except ValueError:
        return text.lower()


def _matches(record: dict, group: dict) -> bool:
    properties = {**record["properties"], "hs_object_id": record["id"]}
    return all(
        _compare(properties.get(f["propertyName"]), f["operator"], f.get("value"))
        for f in group.get("filters", [])
    )


def _sort_key(record: dict, name: str) -> Any:
    value = record["id"] if name == "hs_object_id" else record["properties"].get(name)
    if value is None:
        return (1, 0)
    return (0, _comparable(value))


class _Handler(BaseHTTPRequestHandler):
    sandbox: Sandbox
    protocol_version = "HTTP/1.1"
    # Headers and body are two writes: with Nagle's algorithm on, a body that fits in one
    # segment waits for the client's delayed ACK of the headers (40 ms on Linux).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read the log
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, body, headers = self._answer(method, parts.path, parse_qs(parts.query), raw)
        with self.sandbox.lock:
            self.sandbox.requests.append((method, parts.path, status))
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _answer(
        self, method: str, path: str, query: dict[str, list[str]], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        sandbox = self.sandbox
        if not sandbox.authorised(self.headers.get("Authorization")):
            return (
                401,
                error_body(
                    "INVALID_AUTHENTICATION",
                    "Authentication credentials not found. This API supports OAuth 2.0 "
                    "authentication and you can find more details at "
                    "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                ),
                {},
            )
        fault = sandbox._take_fault(method, path)
        if fault is not None and not fault.malformed:
            return _fault_answer(fault.status)
        segments = path.strip("/").split("/")
        if segments[:3] != ["crm", "v3", "objects"] or len(segments) < 4:
            return 404, error_body("OBJECT_NOT_FOUND", f"No endpoint {method} {path}."), {}
        object_type = segments[3]
        if object_type not in OBJECT_TYPES:
            return (
                400,
                error_body("VALIDATION_ERROR", f"Unable to infer object type from: {object_type}"),
                {},
            )
        if object_type == "feedback_submissions" and not sandbox.feedback_enabled:
            return (
                403,
                error_body(
                    "MISSING_SCOPES",
                    "This app hasn't been granted all required scopes to make this call.",
                ),
                {},
            )
        if fault is not None:  # malformed: a page without its results
            return 200, {"paging": {"next": {"after": "x"}}, "total": 1}, {}
        if method == "GET" and len(segments) == 4:
            return 200, sandbox.list_page(object_type, query), {}
        if method == "POST" and segments[4:] == ["search"]:
            try:
                request = json.loads(raw or b"{}")
                status, body = sandbox.search(object_type, request)
            except (ValueError, TypeError, KeyError) as exc:
                return 400, error_body("VALIDATION_ERROR", f"Invalid search: {exc}"), {}
            return status, body, {}
        return 404, error_body("OBJECT_NOT_FOUND", f"No endpoint {method} {path}."), {}


def _fault_answer(status: int) -> tuple[int, Any, dict[str, str]]:
    if status == 429:
        # HubSpot's limits answer without a Retry-After header.
        return (
            429,
            {
                "status": "error",
                "message": "You have reached your secondly limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": str(uuid.uuid4()),
                "policyName": "SECONDLY",
            },
            {},
        )
    if status >= 500:
        return status, error_body("INTERNAL_ERROR", "internal error"), {}
    return status, error_body("VALIDATION_ERROR", f"fault {status}"), {}
