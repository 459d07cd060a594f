"""Form posts: a company's host trusts its own origin, and no other company's, by default.

``CSRF_TRUSTED_ORIGINS`` is read as production reads it (a settings process with ``DEBUG=0``),
then a browser on one company's page posts to another company's host. Django always accepts
the request's own origin; the setting only adds origins. With ``https://*.<base>`` every
company's page (a plugin's page, any script it runs) could post forms to every other company,
needing only a CSRF cookie, which a sibling sub-domain can set for the whole base domain.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet
from django.test import Client

from kpiplatform.testing.companies import PASSWORD

ROOT = Path(__file__).resolve().parent.parent


def production_csrf_trusted_origins(tmp_path: Path, **env) -> list[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KPI_", "DEBUG"))}
    base.pop("CSRF_TRUSTED_ORIGINS", None)
    script = (
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.CSRF_TRUSTED_ORIGINS))"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env={
            **base,
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "KPI_SECRET_KEYS": Fernet.generate_key().decode(),
            "KPI_BASE_DOMAIN": "localhost",
            "DATABASE_URL": "postgres://kpiplatform@127.0.0.1:5432/kpiplatform",
            "EMAIL_URL": "smtp://127.0.0.1:25",
            "KPI_VAR_DIR": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def post_login(company, origin: str):
    """A logged-out browser on ``origin`` posts the login form of ``company`` over HTTPS."""
    client = Client(enforce_csrf_checks=True, HTTP_HOST=company.host)
    client.get("/login/", secure=True)
    return client.post(
        "/login/",
        {
            "username": company.email("viewer"),
            "password": PASSWORD,
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
        secure=True,
        HTTP_ORIGIN=origin,
    )


def test_by_default_a_company_host_trusts_only_its_own_origin(acme, globex, settings, tmp_path):
    settings.CSRF_TRUSTED_ORIGINS = production_csrf_trusted_origins(tmp_path)

    assert post_login(globex, f"https://{globex.host}").status_code == 302
    assert post_login(globex, f"https://{acme.host}").status_code == 403
    assert post_login(globex, "https://localhost").status_code == 403
    assert post_login(globex, "https://evil.example").status_code == 403


def test_explicitly_configured_origins_are_trusted(globex, settings, tmp_path):
    settings.CSRF_TRUSTED_ORIGINS = production_csrf_trusted_origins(
        tmp_path, CSRF_TRUSTED_ORIGINS="https://intranet.example,https://bi.example"
    )
    assert settings.CSRF_TRUSTED_ORIGINS == ["https://intranet.example", "https://bi.example"]
    assert post_login(globex, "https://intranet.example").status_code == 302
