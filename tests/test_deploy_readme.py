"""The README documents every environment variable the settings read."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READ_PATTERNS = (
    r"env(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]+)\"",  # env.str("NAME", ...), env("NAME")
    r"\"([A-Z][A-Z0-9_]+)\" in env",
    r"os\.environ\.get\(\s*\"([A-Z][A-Z0-9_]+)\"",
)


def variables_read_by_settings() -> set[str]:
    source = (ROOT / "kpiplatform" / "settings.py").read_text()
    return {name for pattern in READ_PATTERNS for name in re.findall(pattern, source)}


def test_every_environment_variable_of_the_settings_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", readme, flags=re.MULTILINE))
    read = variables_read_by_settings()
    assert {"DATABASE_URL", "SECRET_KEY", "KPI_VAR_DIR", "DEFAULT_FROM_EMAIL"} <= read
    assert read - documented == set()
