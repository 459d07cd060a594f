"""The upstream objects a connection keeps (SDK 1.4 ``SyncPage.source_objects``).

Written by the platform in the page's transaction (:func:`store`), so the objects and the
records derived from them are committed together; read back by the connector, under the
company's read-only role, through ``sdk.stored_source_objects`` while its sync runs
(:func:`reading_for`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

import orjson
import psycopg
from django.db import connection as db_connection

from kpiplatform import sdk
from kpiplatform.connectors.models import SourceObject

TABLE = SourceObject._meta.db_table
MAX_READ = 1000  # a connector reads in pages: never a whole company's objects at once


def problem(page: sdk.SyncPage) -> str:
    """What is wrong with the page's source objects ("" if nothing)."""
    objects = page.source_objects
    if not isinstance(objects, dict) or not all(
        isinstance(kind, str)
        and 0 < len(kind) <= 64
        and isinstance(items, list)
        and all(
            isinstance(o, sdk.SourceObject)
            and isinstance(o.external_id, str)
            and 0 < len(o.external_id) <= 255
            and isinstance(o.parent, str)
            and len(o.parent) <= 255
            and (o.payload is None or isinstance(o.payload, dict))
            for o in items
        )
        for kind, items in objects.items()
    ):
        return "the connector's source objects are not {kind: [SourceObject, ...]}."
    return ""


def _json(payload: dict) -> str:
    return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS).decode()


def store(connection_id: int, objects: dict[str, list[sdk.SourceObject]]) -> int:
    """Upsert (or, payload None, remove) the page's objects; returns how many were written.

    One statement per kind and operation; the last of two objects with one id wins. The
    arrays are bound server-side in binary: Django's client-side binding quotes every JSON
    payload through a regular expression, which cost more than the whole write."""
    written = 0
    # The Django cursor sets the company's search_path on the session the plain one shares.
    with (
        db_connection.cursor() as django_cursor,
        psycopg.Cursor(django_cursor.cursor.connection) as cursor,
    ):
        for kind, items in objects.items():
            latest: dict[str, sdk.SourceObject] = {o.external_id: o for o in items}
            gone = [i for i, o in latest.items() if o.payload is None]
            kept = [o for o in latest.values() if o.payload is not None]
            if gone:
                cursor.execute(
                    f"DELETE FROM {TABLE} WHERE connection_id = %s AND kind = %s "
                    "AND external_id = ANY(%b)",
                    [connection_id, kind, gone],
                )
            if kept:
                cursor.execute(
                    f"INSERT INTO {TABLE} (connection_id, kind, external_id, parent, payload, "
                    "updated_at) SELECT %b, %b, e, p, j::jsonb, now() "
                    "FROM unnest(%b::text[], %b::text[], %b::text[]) AS u(e, p, j) "
                    "ORDER BY e "
                    "ON CONFLICT (connection_id, kind, external_id) DO UPDATE SET "
                    "parent = EXCLUDED.parent, payload = EXCLUDED.payload, updated_at = now()",
                    [
                        connection_id,
                        kind,
                        [o.external_id for o in kept],
                        [o.parent for o in kept],
                        [_json(o.payload) for o in kept],
                    ],
                )
                written += len(kept)
    return written


def analyze() -> None:
    """Refresh the planner's statistics of the table (the columns reads filter on).

    A sync that grows the table by hundreds of thousands of objects must not leave its reads
    planned from statistics of a nearly empty table: planned so, every read by id or parent
    scans all the connection's objects of that kind (measured: 150-200 ms instead of 25-50 ms
    per read of 2,000 ids or parents at 640,000 objects). Autovacuum's analyze lags a bulk
    load, and may be off."""
    with db_connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {TABLE} (connection_id, kind, external_id, parent)")


def read(
    connection_id: int,
    kind: str,
    *,
    external_ids: list[str] | None = None,
    parents: list[str] | None = None,
    after: str | None = None,
    limit: int | None = None,
    fields: list[str] | None = None,
    written_before: dt.datetime | None = None,
) -> list[dict]:
    """The stored objects of one kind, in external id order (see sdk.stored_source_objects).

    With ``fields``, PostgreSQL cuts each payload down to those top-level keys before it is
    sent: decoding whole payloads was the largest cost of a sync reading its objects back."""
    where, params = ["connection_id = %s", "kind = %s"], [connection_id, kind]
    if external_ids is not None:
        where.append("external_id = ANY(%s)")
        params.append(external_ids)
    if parents is not None:
        where.append("parent = ANY(%s)")
        params.append(parents)
    if after is not None:
        where.append("external_id > %s")
        params.append(after)
    if written_before is not None:
        where.append("updated_at < %s")
        params.append(written_before)
    limit = min(limit or MAX_READ, MAX_READ) if external_ids is None and parents is None else None
    payload = "payload"
    if fields is not None:
        payload = "jsonb_build_object({})".format(", ".join(["%s, payload -> %s"] * len(fields)))
        params = [part for name in fields for part in (name, name)] + params
    query = (
        f"SELECT external_id, parent, {payload}::text FROM {TABLE} "
        f"WHERE {' AND '.join(where)} ORDER BY external_id"
        + (f" LIMIT {int(limit)}" if limit else "")
    )
    with db_connection.cursor() as cursor:
        cursor.execute(query, params)
        rows = cursor.fetchall()
    return [{"external_id": e, "parent": p, "payload": orjson.loads(j)} for e, p, j in rows]


@contextlib.contextmanager
def reading_for(connection_id: int, time_zone: str) -> Iterator[None]:
    """While a connection's sync runs: ``sdk.stored_source_objects`` reads its objects and
    ``sdk.company_time_zone`` is the company's."""
    previous = sdk._source_object_reader, sdk._company_time_zone

    def reader(kind: str, **options) -> list[dict]:
        return read(connection_id, kind, **options)

    sdk._source_object_reader, sdk._company_time_zone = reader, time_zone
    try:
        yield
    finally:
        sdk._source_object_reader, sdk._company_time_zone = previous
