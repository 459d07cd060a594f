"""docker/ is checked by reading it: there is no container engine on the test machines."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

DOCKER = Path(__file__).resolve().parent.parent / "docker"


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def test_compose_runs_postgres_redis_web_worker_and_beat():
    services = compose()["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    assert any(v.endswith(":/var/lib/postgresql/data") for v in services["postgres"]["volumes"])
    assert services["web"]["command"][0] == "gunicorn"
    assert services["worker"]["command"][:4] == ["celery", "-A", "kpiplatform", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "kpiplatform", "beat"]


def test_compose_gives_every_app_service_its_configuration_from_the_environment():
    services = compose()["services"]
    for name in ("web", "worker", "beat", "migrate"):
        env = services[name]["environment"]
        for variable in (
            "DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "KPI_SECRET_KEYS", "KPI_BASE_DOMAIN",
        ):  # fmt: skip
            assert env.get(variable), f"{name} lacks {variable}"
        assert env["DEBUG"] == "0"
        assert "@postgres:5432/" in env["DATABASE_URL"]
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379/")
        # Secrets are never written into the file: compose refuses to start without them.
        for secret in ("SECRET_KEY", "KPI_SECRET_KEYS"):
            assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", env[secret]), secret


def test_app_services_start_only_after_the_migrations_succeeded():
    services = compose()["services"]
    assert services["migrate"]["environment"]["KPI_MIGRATE"] == "1"
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"


def test_dockerfile_builds_from_the_lock_file_without_dev_tools_and_runs_as_non_root():
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = " ".join(arg for op, arg in instructions if op == "RUN")
    assert "uv sync --frozen --no-dev" in runs
    assert "collectstatic" in runs
    users = [arg for op, arg in instructions if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert ("ENTRYPOINT", '["/app/docker/entrypoint.sh"]') in instructions


def test_the_image_pins_the_uv_version_the_makefile_uses():
    makefile = (DOCKER.parent / "Makefile").read_text()
    uv_version = re.search(r"uv==([\d.]+)", makefile).group(1)
    assert f"ghcr.io/astral-sh/uv:{uv_version} " in (DOCKER / "Dockerfile").read_text()


def test_entrypoint_waits_for_the_database_then_migrates_shared_before_tenants():
    script = (DOCKER / "entrypoint.sh").read_text()
    assert script.startswith("#!/bin/sh")
    assert (DOCKER / "entrypoint.sh").stat().st_mode & 0o111, "entrypoint.sh must be executable"
    wait = script.index("waiting for the database")
    shared = script.index("migrate_schemas --shared")
    tenants = script.index("migrate_schemas --tenant")
    assert wait < shared < tenants < script.index('exec "$@"')


def test_production_dependencies_include_what_the_image_runs():
    project = tomllib.loads((DOCKER.parent / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=\[ ]", dep, maxsplit=1)[0] for dep in project["dependencies"]}
    assert {"gunicorn", "whitenoise", "psycopg", "celery"} <= names


def test_web_runs_gunicorn_with_the_config_that_redacts_secrets_from_its_logs():
    web = compose()["services"]["web"]
    assert web["command"] == [
        "gunicorn", "--config", "docker/gunicorn.conf.py", "kpiplatform.wsgi:application",
    ]  # fmt: skip
    config: dict = {}
    exec((DOCKER / "gunicorn.conf.py").read_text(), config)
    assert config["logger_class"] == "kpiplatform.log_redaction.GunicornLogger"
    assert config["accesslog"] == "-"
    cmd = next(arg for op, arg in dockerfile_instructions() if op == "CMD")
    assert "docker/gunicorn.conf.py" in cmd


def test_compose_requires_a_real_mail_server_and_serves_only_the_local_proxy():
    services = compose()["services"]
    for name in ("web", "worker", "beat", "migrate"):
        # No console default: it would print invitation and password-reset links.
        assert re.fullmatch(r"\$\{EMAIL_URL:\?[^}]*\}", services[name]["environment"]["EMAIL_URL"])
    assert services["web"]["ports"] == ["127.0.0.1:8000:8000"]
    assert "EMAIL_URL=" in (DOCKER / "example.env").read_text().splitlines()


def test_the_image_collects_the_static_files_that_debug_0_serves(tmp_path):
    """The Dockerfile's collectstatic step, run as written: the production settings (DEBUG=0)
    then find every page's static files, the charts' vega among them, by hashed name and
    gzipped (a collection without the manifest fails every page)."""
    import os
    import shlex
    import subprocess
    import sys

    from cryptography.fernet import Fernet

    (step,) = [
        arg for op, arg in dockerfile_instructions() if op == "RUN" and "collectstatic" in arg
    ]
    words = shlex.split(step)
    split = next(i for i, word in enumerate(words) if "=" not in word)
    env = {**os.environ, **dict(word.split("=", 1) for word in words[:split])}
    env["STATIC_ROOT"] = str(tmp_path)
    assert words[split] == "python"
    root = DOCKER.parent
    subprocess.run([sys.executable, *words[split + 1 :]], env=env, cwd=root, check=True)

    production = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "kpiplatform.settings",
        "DEBUG": "0",
        "SECRET_KEY": "test-" + "x" * 60,
        "KPI_SECRET_KEYS": Fernet.generate_key().decode(),
        "KPI_ALLOW_CONSOLE_EMAIL": "1",
        "STATIC_ROOT": str(tmp_path),
    }
    names = [
        "kpiplatform/app.css",
        "js_lib_vega_embed/vega-embed-full.js",
        "django_htmx/htmx-2.min.js",
    ]
    script = (
        "import django, sys; django.setup()\n"
        "from django.templatetags.static import static\n"
        "print(' '.join(static(name) for name in sys.argv[1:]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *names],
        env=production,
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    urls = result.stdout.split()
    assert len(urls) == len(names)
    for name, url in zip(names, urls, strict=True):
        assert url != f"/static/{name}"  # a hashed name, cached for good
        assert (tmp_path / url.removeprefix("/static/")).exists()
        assert (tmp_path / (url.removeprefix("/static/") + ".gz")).exists()
