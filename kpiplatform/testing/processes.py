"""Helpers for tests that start other processes (a Celery worker, ``manage.py run``)."""

from __future__ import annotations

from urllib.parse import quote

from django.db import connection


def database_url_for_subprocess() -> str:
    """``DATABASE_URL`` of the database this test process uses (pytest-django's test database).

    A worker or server started with it sees the rows a test committed.
    """
    db = connection.settings_dict
    host = db["HOST"] or "localhost"
    # A unix-socket folder goes in the path (postgres://user@//folder/name), as django-environ
    # reads it; a host name goes in the authority.
    host = "/" + quote(host) if host.startswith("/") else host
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    port = f":{db['PORT']}" if db["PORT"] and not host.startswith("/") else ""
    return f"postgres://{auth}@{host}{port}/{db['NAME']}"
