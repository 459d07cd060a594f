"""Fixtures several test modules share: set-up they only read, made once per session."""

from __future__ import annotations

import pytest

from kpiplatform.testing.drill_example import load_drill_example
from kpiplatform.testing.kpis import recompute_all, recompute_pending
from kpiplatform.testing.shared import shared_company


def _computed_drill_example() -> None:
    load_drill_example()
    # What the worker's recompute of the writes does, so that no change is left pending for a
    # tick elsewhere in the session to recompute; then every KPI from scratch.
    recompute_pending()
    recompute_all()


@pytest.fixture(scope="session")
def drill_example_company(standing_companies, django_db_blocker):
    """The drill example (kpiplatform/testing/drill_example.py) committed in a company of its
    own with every KPI computed, for the tests that only read it: the drill-downs, their
    pages and API, and the browser's drill-down and crawls. Their modules share the xdist
    group ``drill-example``, so one worker computes it once."""
    with shared_company(django_db_blocker, "Drill Co", _computed_drill_example) as company:
        yield company
