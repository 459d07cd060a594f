"""pytest fixtures: ``acme`` and ``globex``, two standing companies for the whole session."""

from __future__ import annotations

import os
import sys

# Cache compiled modules under __pycache__ (git-ignored) even where PYTHONDONTWRITEBYTECODE
# is set, as some images do: every xdist worker and every process a test starts (Celery
# workers, `manage.py run`, gunicorn...) imports Django and the app, and compiling them from
# source each time costs seconds per process. Set before the imports below, and taken out of
# the environment those processes inherit.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

from collections.abc import Iterator  # noqa: E402 (after the bytecode setting, on purpose)

import pytest  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import override_settings  # noqa: E402

# Browser tests' fixtures (Playwright itself is imported only when a test asks for a browser).
from kpiplatform.testing.browser import (  # noqa: E402, F401
    browser_page,
    chromium,
    live_app,
    own_company,
    screenshots,
)

# Models load only once Django is set up, so the helpers are imported inside the fixtures.

# Tests hash passwords with MD5: Django's default (PBKDF2, a million rounds) spends about
# 0.3 s on every login, signup and failed attempt. Only this pytest plugin sets it; the
# settings module keeps Django's strong default.
FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hasher():
    with override_settings(PASSWORD_HASHERS=FAST_PASSWORD_HASHERS):
        yield


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    """With ``DATABASE_URL`` unset, the suite runs on the embedded PostgreSQL: started here,
    before pytest-django reads the settings (a wrapper runs before every other plugin's
    implementation), and inherited by the xdist workers."""
    from kpiplatform.embedded import use_embedded_database_if_unset

    use_embedded_database_if_unset()
    return (yield)


@pytest.fixture(scope="session")
def test_database(django_db_setup, django_db_blocker) -> Iterator[None]:
    """The test database, also when no selected test asks for ``db``: pytest-django creates
    it only for the databases that selected tests request, and without it the standing
    companies would be written into the database of ``DATABASE_URL`` itself."""
    import os

    import environ
    from django.test.utils import setup_databases, teardown_databases

    configured = environ.Env.db_url_config(os.environ["DATABASE_URL"])["NAME"]
    if connection.settings_dict["NAME"] != configured:  # pytest-django made it
        yield
        return
    with django_db_blocker.unblock():
        created = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    yield
    with django_db_blocker.unblock():
        teardown_databases(created, verbosity=0)


@pytest.fixture(scope="session")
def standing_companies(test_database, django_db_blocker) -> Iterator[dict]:
    """Create the standing companies once per session (committed, outside test transactions).

    At the end of the session, the company roles of the test database are dropped with it:
    roles belong to the whole PostgreSQL server, which many test databases share.
    """
    from kpiplatform.tenants import roles
    from kpiplatform.testing.companies import create_test_company

    with django_db_blocker.unblock():
        companies = {
            "acme": create_test_company("acme", "Acme Inc"),
            "globex": create_test_company("globex", "Globex Corporation"),
        }
        connection.set_schema_to_public()
    yield companies
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        roles.drop_database_roles()


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


@pytest.fixture(scope="session")
def signup_pool(standing_companies, django_db_blocker) -> None:
    """Committed spare schemas for the whole session, so signups in tests take the pool path.

    Made after the standing companies, which would otherwise take them.
    Signups in tests are rolled back with the test, ALTER SCHEMA included, so the spares
    come back for the next test.
    """
    from kpiplatform.tenants.provisioning import fill_pool

    with django_db_blocker.unblock():
        fill_pool(2)
        connection.set_schema_to_public()


@pytest.fixture
def spare_schemas(signup_pool, db) -> list:
    """The spare companies waiting in the signup pool (at least one)."""
    from kpiplatform.tenants.models import Company

    spares = list(Company.objects.filter(state=Company.State.SPARE).order_by("pk"))
    assert spares, "the signup pool is empty"
    return spares


@pytest.fixture
def empty_signup_pool(db) -> None:
    """An empty signup pool for this test only (the spares are dropped inside its transaction)."""
    from kpiplatform.tenants.models import Company

    for spare in Company.objects.filter(state=Company.State.SPARE):
        spare.delete(force_drop=True)


@pytest.fixture
def task_queue() -> Iterator[str]:
    """A Celery queue of this test's own, which tasks sent from this process go to (and a
    worker started with ``queue=`` reads); deleted with its messages afterwards."""
    from kpiplatform.testing.queues import own_task_queue

    with own_task_queue() as name:
        yield name
