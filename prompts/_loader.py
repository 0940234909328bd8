"""Versioned prompt templates stored as YAML data files.

A template is data only. Two kinds:

* :class:`PromptTemplate`: texts per language and lookup tables (the grounded agents).
* :class:`ChatTemplate`: a chat prompt (system and user messages) with declared
  ``variables`` and the name of its ``output_schema``; rendering refuses a missing or
  undeclared variable by name.

Each file stores ``sha256`` (of its content, that field left out) beside ``version``;
a test fails when the content changes and the two were not updated together. The
audit log records ``name@version+sha256[:8]`` (:attr:`ref`) of the content actually
loaded. Nothing in a template can switch off a check.
"""

from __future__ import annotations

import functools
import hashlib
import json
import string
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from copilot import ChatMessage
from copilot.errors import ConfigError

__all__ = ["TEMPLATE_DIR", "ChatTemplate", "PromptTemplate", "load_chat_prompt", "load_prompt"]

TEMPLATE_DIR = Path(__file__).parent / "templates"
_NAME = r"^[a-z][a-z0-9_]*$"


class _Template(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME)
    version: str = Field(min_length=1)
    sha256: str = Field(default="", pattern=r"^([0-9a-f]{64})?$")
    description: str = ""

    def content_sha256(self) -> str:
        """SHA-256 of the canonical content, ``sha256`` itself left out."""
        data = self.model_dump(mode="json", exclude={"sha256"})
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def ref(self) -> str:
        """``name@version+sha256[:8]``, as written to the audit log."""
        return f"{self.name}@{self.version}+{self.content_sha256()[:8]}"


class PromptTemplate(_Template):
    texts: dict[str, dict[str, str]] = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict)

    def text(self, key: str, language: str, **values: object) -> str:
        """The ``key`` text in ``language`` (English if missing), formatted with ``values``."""
        table = self.texts.get(language) or self.texts.get("en") or {}
        if key not in table:
            raise ConfigError(f"prompt {self.name!r} v{self.version} has no text {key!r}")
        return table[key].format(**values)


class ChatTemplate(_Template):
    """A system and a user message with ``{variable}`` slots, and the output schema's name."""

    variables: list[str] = Field(min_length=1)
    output_schema: str = Field(min_length=1)
    system: str = Field(min_length=1)
    user: str = Field(min_length=1)

    @model_validator(mode="after")
    def _slots_are_declared(self) -> ChatTemplate:
        used = _slots(self.system) | _slots(self.user)
        declared = set(self.variables)
        if undeclared := sorted(used - declared):
            raise ValueError(f"messages use undeclared variable(s) {undeclared}; add them to variables")
        if unused := sorted(declared - used):
            raise ValueError(f"variable(s) {unused} are declared but no message uses them")
        return self

    def render(self, **values: str) -> list[ChatMessage]:
        """The messages with every declared variable filled; values are inserted as
        data (braces inside them are not slots)."""
        declared = set(self.variables)
        if missing := sorted(declared - set(values)):
            raise ConfigError(f"prompt {self.ref}: missing variable(s) {missing}")
        if unknown := sorted(set(values) - declared):
            raise ConfigError(f"prompt {self.ref}: undeclared variable(s) {unknown}")
        return [
            ChatMessage(role="system", content=self.system.format_map(values)),
            ChatMessage(role="user", content=self.user.format_map(values)),
        ]


def _slots(text: str) -> set[str]:
    try:
        return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    except ValueError as exc:  # a lone brace
        raise ValueError(f"bad brace in message: {exc}; write {{{{ or }}}} for a literal brace") from None


T = TypeVar("T", bound=_Template)


def _load(kind: type[T], name: str, folder: Path) -> T:
    path = folder / f"{name}.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        template = kind.model_validate(raw)
    except FileNotFoundError:
        raise ConfigError(f"prompt template {path} is missing; reinstall the package") from None
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"prompt template {path} is invalid: {exc}") from None
    if template.name != name:
        raise ConfigError(f"prompt template {path} declares name {template.name!r}, expected {name!r}")
    return template


@functools.cache
def load_prompt(name: str, folder: Path = TEMPLATE_DIR) -> PromptTemplate:
    """Load the text template ``<folder>/<name>.yaml`` once per process."""
    return _load(PromptTemplate, name, folder)


@functools.cache
def load_chat_prompt(name: str, folder: Path = TEMPLATE_DIR) -> ChatTemplate:
    """Load the chat template ``<folder>/<name>.yaml`` once per process."""
    return _load(ChatTemplate, name, folder)
