"""Set-up that several tests only read, made once for them instead of once per test.

A fixture that writes an example and recomputes every KPI in each test's transaction pays
that recompute again for every test. :func:`shared_company` makes a company of its own, with
the example committed, for a module- (or session-) scoped fixture; each test still runs in
its own transaction (it asks for ``db``), so what one test writes there is rolled back before
the next, and the company is dropped with everything in it afterwards. The standing companies
stay as they were.

The company is a real one (schema, role, users of every role), made as every test company
is, and the writes go through the bulk writer as a test's do: their recomputes are sent to a
queue of the set-up's own, deleted with it, as a test transaction never sends them.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator

from django.db import connection

from kpiplatform.testing.companies import TestCompany, create_test_company
from kpiplatform.testing.queues import own_task_queue


@contextlib.contextmanager
def committed_writes(django_db_blocker) -> Iterator[None]:
    """Writes in the block commit (outside any test's transaction), and the recomputes they
    send go to a queue of the block's own, deleted after it."""
    with django_db_blocker.unblock(), own_task_queue():
        try:
            yield
        finally:
            connection.set_schema_to_public()


@contextlib.contextmanager
def shared_company(
    django_db_blocker, name: str, load: Callable[[], object] | None = None
) -> Iterator[TestCompany]:
    """A committed company named ``name`` with what ``load`` writes in its schema (called
    with the company active, under :func:`committed_writes`), dropped after the block."""
    slug = f"s{uuid.uuid4().hex[:10]}"
    with django_db_blocker.unblock():
        company = create_test_company(slug, name)
        connection.set_schema_to_public()
    try:
        if load is not None:
            with committed_writes(django_db_blocker), company.activate():
                load()
        yield company
    finally:
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            company.company.delete(force_drop=True)
