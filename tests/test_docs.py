"""The plugin author guide documents every hook with its exact signature (as datasette does)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from kpiplatform import hookspecs
from kpiplatform.plugins import get_manager

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"


def hook_specifications() -> list:
    return [
        fn
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "kpiplatform_spec")
    ]


def signature_of(fn) -> str:
    # Annotations are kept as written (``from __future__ import annotations``).
    signature = inspect.signature(fn)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in signature.parameters.values())
    return f"{fn.__name__}({params}) -> {signature.return_annotation}"


def test_the_hook_list_is_the_one_the_manager_knows():
    names = sorted(fn.__name__ for fn in hook_specifications())
    assert names == get_manager().hook_names()
    assert "register_kpis" in names


@pytest.mark.parametrize("hook", hook_specifications(), ids=lambda fn: fn.__name__)
def test_every_hook_is_in_the_author_guide_with_its_exact_signature(hook):
    assert f"### `{signature_of(hook)}`" in GUIDE.read_text()


@pytest.mark.parametrize("hook", hook_specifications(), ids=lambda fn: fn.__name__)
def test_every_hook_docstring_follows_the_template(hook):
    doc = inspect.getdoc(hook)
    assert doc, "a hook without a docstring"
    for param in inspect.signature(hook).parameters:
        assert f":param {param}:" in doc
    assert ":returns:" in doc
    assert "Added in 1.0." in doc
    assert "Runs " in doc
    assert "first result" in doc


def test_kpi_reference_is_generated_from_the_current_definitions():
    """docs/kpis.md shows users the definitions the numbers follow: it must not drift."""
    from kpiplatform.kpis.documentation import built_in_kpis, kpi_reference

    reference = Path(__file__).resolve().parent.parent / "docs" / "kpis.md"
    assert reference.read_text() == kpi_reference(), "run: manage.py document_kpis"
    assert len(built_in_kpis()) >= 38
