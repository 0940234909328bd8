"""Each package's __all__ is exactly its public surface; implementation stays in _modules."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = ["copilot", "agents", "knowledge", "prompts", "audit", "connectors", "evals"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_exactly_the_public_names(name: str) -> None:
    module = importlib.import_module(name)
    public = {n for n in dir(module) if not n.startswith("_")}
    public -= {"annotations", "TYPE_CHECKING", "Any"}  # typing helpers used by __init__ itself
    public -= {n for n in public if isinstance(getattr(module, n, None), type(importlib))}
    exported = set(module.__all__)
    assert public == exported
    for member in exported:
        assert getattr(module, member) is not None


def test_help_imports_nothing_heavy() -> None:
    """`copilot --help` lists every command without importing pydantic, rich or chromadb."""
    import subprocess
    import sys

    code = (
        "import sys; from click.testing import CliRunner; from copilot.cli import main;"
        "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0, r.output;"
        "heavy = sorted(m for m in ('pydantic', 'rich', 'chromadb', 'numpy') if m in sys.modules);"
        "print(','.join(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_engine_is_imported_lazily() -> None:
    import copilot

    assert copilot.Copilot.__name__ == "Copilot"
    with pytest.raises(AttributeError):
        _ = copilot.NoSuchThing  # type: ignore[attr-defined]
