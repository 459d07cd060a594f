"""The test profile of the pytest plugin: a fast password hasher, for tests only."""

import subprocess
import sys
from pathlib import Path

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
