"""The test profile of the pytest plugin: a fast password hasher, for tests only."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.hashers import make_password

from kpiplatform.accounts.models import User

ROOT = Path(__file__).resolve().parent.parent


def test_tests_hash_passwords_with_the_fast_hasher(acme):
    assert make_password("any password").startswith("md5$")
    with acme.activate():
        assert User.objects.get(email="viewer@acme.test").password.startswith("md5$")


def test_outside_pytest_the_settings_keep_django_s_strong_default_hasher():
    script = (
        "import django; django.setup(); "
        "from django.contrib.auth.hashers import make_password; "
        "print(make_password('x').split('$')[0])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            "DJANGO_SETTINGS_MODULE": "kpiplatform.settings",
            "DATABASE_URL": "postgres://x@127.0.0.1/x",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "pbkdf2_sha256", result.stderr


@pytest.mark.slow
def test_a_run_of_tests_that_only_use_the_standing_companies_gets_a_test_database(tmp_path):
    # pytest-django creates the test database only for tests asking for ``db``; a run of
    # tests that use the standing companies alone must not write into DATABASE_URL's.
    import os

    import psycopg

    database = f"kpi_plugin_probe_{os.getpid()}"
    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    test_file = tmp_path / "test_standing_only.py"
    test_file.write_text(
        "def test_standing(standing_companies):\n"
        "    assert set(standing_companies) == {'acme', 'globex'}\n"
    )
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": f"{base}/{database}"},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        with psycopg.connect(f"{base}/{database}") as probe:
            tables = probe.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            ).fetchone()[0]
        assert tables == 0  # nothing was migrated or written there
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
