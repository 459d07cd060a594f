"""pytest fixtures: ``acme`` and ``globex``, two standing companies for the whole session."""

from __future__ import annotations

import pytest
from django.db import connection

# Models load only once Django is set up, so the helpers are imported inside the fixtures.


@pytest.fixture(scope="session")
def standing_companies(django_db_setup, django_db_blocker) -> dict:
    """Create the standing companies once per session (committed, outside test transactions)."""
    from kpiplatform.testing.companies import create_test_company

    with django_db_blocker.unblock():
        companies = {
            "acme": create_test_company("acme", "Acme Inc"),
            "globex": create_test_company("globex", "Globex Corporation"),
        }
        connection.set_schema_to_public()
    return companies


@pytest.fixture
def acme(standing_companies, db):
    return standing_companies["acme"]


@pytest.fixture
def globex(standing_companies, db):
    return standing_companies["globex"]


@pytest.fixture(autouse=True)
def _back_to_public_schema():
    """Every test starts and ends in the public schema, whatever the last one did."""
    yield
    connection.set_schema_to_public()
