"""Versioned prompt templates stored as YAML data files.

A template is data only: texts per language and lookup tables. Its ``version``
is written to the audit log with every suggestion it helped produce. Nothing
in a template can switch off a check.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from copilot.errors import ConfigError

__all__ = ["TEMPLATE_DIR", "PromptTemplate", "load_prompt"]

TEMPLATE_DIR = Path(__file__).parent / "templates"


class PromptTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: str = Field(min_length=1)
    description: str = ""
    texts: dict[str, dict[str, str]] = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict)

    def text(self, key: str, language: str, **values: object) -> str:
        """The ``key`` text in ``language`` (English if missing), formatted with ``values``."""
        table = self.texts.get(language) or self.texts.get("en") or {}
        if key not in table:
            raise ConfigError(f"prompt {self.name!r} v{self.version} has no text {key!r}")
        return table[key].format(**values)


@functools.cache
def load_prompt(name: str, folder: Path = TEMPLATE_DIR) -> PromptTemplate:
    """Load ``<folder>/<name>.yaml`` once per process."""
    path = folder / f"{name}.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        template = PromptTemplate.model_validate(raw)
    except FileNotFoundError:
        raise ConfigError(f"prompt template {path} is missing; reinstall the package") from None
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"prompt template {path} is invalid: {exc}") from None
    if template.name != name:
        raise ConfigError(f"prompt template {path} declares name {template.name!r}, expected {name!r}")
    return template
