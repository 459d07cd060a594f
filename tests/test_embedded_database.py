"""The one-machine default: with no DATABASE_URL, an embedded PostgreSQL starts and stops."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from kpiplatform import embedded

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def var_dir():
    # Not pytest's tmp_path: running as root the server opens the permissions of every parent
    # folder of its data, and pytest keeps its base folder private.
    folder = Path(tempfile.mkdtemp(prefix="kpi-embedded-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def manage_without_database_url(var_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env["KPI_VAR_DIR"] = str(var_dir)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_without_database_url_the_embedded_server_migrates_answers_and_stops(var_dir):
    pgdata = var_dir / "postgres"
    migrated = manage_without_database_url(var_dir, "migrate_schemas", "--shared", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    assert not embedded.is_running(pgdata), "the server outlived the last process using it"

    query = (
        "from kpiplatform.tenants.models import Company, Domain;"
        "from django.db import connection;"
        "print(connection.settings_dict['HOST']);"
        "print(Company.objects.get(schema_name='public').name, Domain.objects.count())"
    )
    answered = manage_without_database_url(var_dir, "shell", "-c", query)
    assert answered.returncode == 0, answered.stderr
    socket_folder, result = answered.stdout.strip().splitlines()[-2:]
    assert result == "kpiplatform 1"  # the public company, made by the migrations
    assert Path(socket_folder).is_absolute()  # a unix socket, no TCP port opened
    assert (pgdata / "PG_VERSION").exists()
    assert not embedded.is_running(pgdata)


def test_importing_the_settings_never_starts_a_server(var_dir):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env["KPI_VAR_DIR"] = str(var_dir)
    imported = subprocess.run(
        [sys.executable, "-c", "import kpiplatform.settings"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert imported.returncode != 0
    assert "ImproperlyConfigured: DATABASE_URL is not set" in imported.stderr
    assert not (var_dir / "postgres").exists()
