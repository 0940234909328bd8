"""Settings from COPILOT_* variables; prompt templates as validated, versioned data."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from copilot import Settings
from copilot.errors import ConfigError
from prompts import PromptTemplate, load_prompt


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("COPILOT_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("COPILOT_MAX_DISCOUNT_PERCENT", "10")
    settings = Settings()
    assert settings.home == tmp_path / "h"
    assert settings.audit_path == tmp_path / "h" / "audit.sqlite3"
    assert settings.max_discount_percent == 10


def test_settings_reject_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COPILOT_MAX_DISCOUNT_PERCENT", "150")
    with pytest.raises(ValidationError, match="max_discount_percent"):
        Settings()


def test_decision_chain_template_is_versioned_and_complete() -> None:
    template = load_prompt("decision_chain")
    assert template.version == "1"
    for language in ("zh", "en"):
        assert set(template.data["role_names"][language]) == set(template.data["meetings"][language])
        assert template.text("missing", language, summary="s", roles="r", hours=48, meeting="m")


def test_template_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("name: broken\nversion: '1'\nallow_all: true\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.yaml is invalid"):
        load_prompt("broken", tmp_path)
    with pytest.raises(ConfigError, match="is missing"):
        load_prompt("absent", tmp_path)
    template = PromptTemplate(name="t", version="2", texts={"en": {"a": "x"}})
    with pytest.raises(ConfigError, match="no text 'b'"):
        template.text("b", "zh")
