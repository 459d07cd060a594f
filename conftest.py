"""How the whole suite (tests/ and plugins/*/tests) is shared out between pytest-xdist's
workers (``make test``: ``-n 2 --dist loadgroup``).

The scheduler sends each ``xdist_group`` to one worker as a whole, the biggest first, then
the other tests one at a time in collection order. Two things are done here:

- Among the tests that need no test transaction (they commit, in companies of their own or
  in the standing ones, and clean up), those that take tens of seconds are moved to the front:
  started early, they run beside the many short ones, and the workers finish together instead
  of one of them running the last long test alone. A test counts as long when it starts a
  Celery worker (``worker``), drives a browser on the live server (``live_app``) or is marked
  ``slow``. pytest-django's order is kept otherwise: the tests in a transaction first, then
  those that commit, for some of the latter leave rows behind that the former would see.
- The group is put back into the test's id, where the scheduler reads it. pytest-xdist 3.8
  writes it into ``Item._nodeid``, which pytest 9.2 no longer reads (pytest-xdist issue
  1386): without this, every group would be scattered over both workers. This does nothing
  once pytest-xdist's own change takes effect.
"""

from __future__ import annotations

import pytest

LONG_FIXTURES = frozenset({"live_app"})


def takes_long(item: pytest.Item) -> bool:
    return bool(
        item.get_closest_marker("worker")
        or item.get_closest_marker("slow")
        or LONG_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    )


def xdist_group_of(item: pytest.Item) -> str | None:
    """The group name pytest-xdist gives the item (its names joined, as it joins them)."""
    names = {
        str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
        for mark in item.iter_markers("xdist_group")
    }
    return "_".join(sorted(names)) or None


def in_a_transaction(item: pytest.Item) -> bool:
    """What pytest-django's order puts first: a test in a rolled-back transaction (``db``)."""
    return bool(item.get_closest_marker("django_db")) or bool(
        {"db", "transactional_db", "live_server"}.intersection(getattr(item, "fixturenames", ()))
    )


@pytest.hookimpl(trylast=True)  # after pytest-django's order and pytest-xdist's group ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A stable sort: pytest-django's order stays, but within the tests that commit.
    items.sort(key=lambda item: (not in_a_transaction(item), not takes_long(item)))
    if not getattr(config.option, "loadgroup", False):  # set on the workers of loadgroup
        return
    for item in items:
        group = xdist_group_of(item)
        if group and not item.nodeid.endswith(f"@{group}") and hasattr(item, "_id"):
            item._id = type(item._id).parse(f"{item.nodeid}@{group}")
