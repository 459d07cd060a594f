"""A Celery queue of a test's own: what the code under test sends goes there, not to the
default queue a real worker elsewhere may read, and is deleted with it afterwards."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import pytest


@contextlib.contextmanager
def own_task_queue() -> Iterator[str]:
    """Tasks sent from this process go to a new queue (a worker started with ``queue=``
    reads it) for the block; the queue and its messages are deleted after it."""
    from django.conf import settings
    from kombu import Exchange, Queue

    from kpiplatform.celery import app

    if os.environ.get("KPI_REQUIRE_SERVICES") == "1" and not settings.CELERY_BROKER_URL.startswith(
        "redis://"
    ):
        pytest.fail("KPI_REQUIRE_SERVICES=1 but CELERY_BROKER_URL is not a redis:// URL")
    name = f"test-{uuid.uuid4().hex[:12]}"
    default = app.conf.task_default_queue
    app.conf.task_default_queue = name
    try:
        yield name
    finally:
        app.conf.task_default_queue = default
        with app.connection_for_write() as broker:
            # Bound in this channel first: a channel deletes the queues it knows the bindings of.
            queue = Queue(name, Exchange(name, type="direct"), routing_key=name)
            bound = queue(broker.default_channel)
            bound.declare()
            bound.delete()
