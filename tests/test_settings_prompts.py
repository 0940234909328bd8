"""Settings from COPILOT_* variables; prompt templates as validated, versioned data."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from copilot import Settings
from copilot.errors import ConfigError
from prompts import TEMPLATE_DIR, ChatTemplate, PromptTemplate, load_chat_prompt, load_prompt

# Every released version of every template, with the first 8 hex digits of its content
# hash. Changing a template means a new version here; an old line never changes.
RELEASED = {
    "decision_chain@1": "92baaefa",
    "reply@1": "845ce298",
    "reply_llm@1": "caa195d9",
}


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


def test_settings_llm_defaults_and_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.llm_base_url is None and settings.llm_timeout_s == 2.5
    monkeypatch.setenv("COPILOT_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("COPILOT_LLM_API_KEY", "sk-do-not-print")
    monkeypatch.setenv("COPILOT_LLM_TIMEOUT_S", "1.5")
    settings = Settings()
    assert settings.llm_timeout_s == 1.5
    assert settings.llm_api_key is not None and settings.llm_api_key.get_secret_value() == "sk-do-not-print"
    assert "sk-do-not-print" not in repr(settings)


def _template(path: Path) -> PromptTemplate | ChatTemplate:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return load_chat_prompt(path.stem) if "system" in raw else load_prompt(path.stem)


@pytest.mark.parametrize("path", sorted(TEMPLATE_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_template_content_changes_bump_the_version(path: Path) -> None:
    template = _template(path)
    digest = template.content_sha256()
    key = f"{template.name}@{template.version}"
    assert key in RELEASED, f"new version {key}: add {key!r}: {digest[:8]!r} to RELEASED"
    assert RELEASED[key] == digest[:8], (
        f"{path.name} changed but still says version {template.version}: bump version, "
        f"set sha256 and add the new version to RELEASED"
    )
    assert template.sha256 == digest, f"{path.name}: set sha256: {digest!r} (beside version)"
    assert template.ref == f"{key}+{digest[:8]}"


def _chat(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "t",
        "version": "1",
        "variables": ["a", "b"],
        "output_schema": "Out",
        "system": "sys {a}",
        "user": "user {b}",
    }
    return {**base, **fields}


def test_chat_template_refuses_missing_and_undeclared_variables_by_name() -> None:
    template = ChatTemplate.model_validate(_chat())
    messages = template.render(a="{not a slot}", b="two")
    assert [(m.role, m.content) for m in messages] == [("system", "sys {not a slot}"), ("user", "user two")]
    with pytest.raises(ConfigError, match=r"missing variable\(s\) \['b'\]"):
        template.render(a="x")
    with pytest.raises(ConfigError, match=r"undeclared variable\(s\) \['c'\]"):
        template.render(a="x", b="y", c="z")
    with pytest.raises(ValidationError, match=r"undeclared variable\(s\) \['c'\]"):
        ChatTemplate.model_validate(_chat(user="user {b} {c}"))
    with pytest.raises(ValidationError, match=r"\['b'\] are declared but no message uses them"):
        ChatTemplate.model_validate(_chat(user="user"))
    with pytest.raises(ValidationError, match="bad brace"):
        ChatTemplate.model_validate(_chat(user="user {b} {"))


def test_reply_template_declares_what_the_agent_sends() -> None:
    template = load_chat_prompt("reply_llm")
    assert template.output_schema == "ReplyDrafts"
    assert set(template.variables) == {
        "language", "deal", "atoms", "guidance", "competitor", "missing_roles", "conversation",
    }  # fmt: skip
