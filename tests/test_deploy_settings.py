"""Production settings: Django's deployment checks pass, development secrets are refused."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def manage(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KPI_", "DEBUG"))}
    base.pop("SECRET_KEY", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env(tmp_path: Path) -> dict[str, str]:
    return {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "KPI_SECRET_KEYS": f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}",
        "KPI_BASE_DOMAIN": "example.com",
        # Never the embedded default here: these checks need no database at all.
        "DATABASE_URL": "postgres://kpiplatform@127.0.0.1:5432/kpiplatform",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
        "KPI_VAR_DIR": str(tmp_path),
    }


def test_deployment_checks_pass_with_production_settings(tmp_path):
    result = manage(["check", "--deploy", "--fail-level", "WARNING"], production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_debug_off_with_development_secrets_refuses_to_start_naming_the_variables(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"], env["KPI_SECRET_KEYS"]
    result = manage(["check"], env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr and "KPI_SECRET_KEYS" in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def test_debug_off_with_only_the_development_fernet_key_names_only_that_variable(tmp_path):
    env = production_env(tmp_path)
    del env["KPI_SECRET_KEYS"]
    result = manage(["check"], env)
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert "KPI_SECRET_KEYS" in message and "SECRET_KEY," not in message


@pytest.mark.parametrize("email_url", ["consolemail://", None], ids=["console", "unset"])
def test_debug_off_refuses_the_console_mail_backend_naming_the_variables(tmp_path, email_url):
    # Console mail prints every e-mail, invitation and password-reset links included, into
    # the web log.
    env = production_env(tmp_path)
    del env["EMAIL_URL"]
    if email_url:
        env["EMAIL_URL"] = email_url
    result = manage(["check"], env)
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in message
    assert "EMAIL_URL" in message and "KPI_ALLOW_CONSOLE_EMAIL" in message


def test_debug_off_allows_console_mail_when_told_explicitly(tmp_path):
    env = {**production_env(tmp_path), "EMAIL_URL": "consolemail://"}
    env["KPI_ALLOW_CONSOLE_EMAIL"] = "1"
    result = manage(["check"], env)
    assert result.returncode == 0, result.stderr
