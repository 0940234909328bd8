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
    lazy = {"Copilot", "redact_conversation"} if name == "copilot" else set()
    assert public | lazy == exported
    for member in exported:
        assert getattr(module, member) is not None


def test_engine_is_imported_lazily() -> None:
    import copilot

    assert copilot.Copilot.__name__ == "Copilot"
    with pytest.raises(AttributeError):
        _ = copilot.NoSuchThing  # type: ignore[attr-defined]
