"""The knowledge atom: the smallest reusable piece of approved sales know-how."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from copilot import ATOM_TYPES, AtomType, Role, Stage

__all__ = [
    "ATOM_TYPES",
    "DEFAULT_AUDIENCE",
    "PLACEHOLDERS",
    "REPLY_TYPES",
    "Atom",
    "AtomStatus",
    "AtomType",
    "Audience",
    "type_rule_problems",
]

# Types a reply suggestion may be composed from.
REPLY_TYPES: tuple[str, ...] = ("script", "objection", "product", "case", "policy")
AtomStatus = Literal["draft", "in_review", "approved", "retired"]
Audience = Literal["customer", "internal"]
# Who an atom's text is for when its file does not say: customer text may be sent, quoted
# or adapted in a reply; internal text is guidance for the rep only.
DEFAULT_AUDIENCE: dict[str, Audience] = {
    "script": "customer",
    "objection": "customer",
    "competitor": "customer",
    "product": "customer",
    "case": "customer",
    "policy": "internal",
    "playbook": "internal",
}
PLACEHOLDERS = frozenset({"customer", "product", "rep"})
_PLACEHOLDER = re.compile(r"\{([^{}\s]*)\}")
MAX_BODY_CHARS = 4000


def type_rule_problems(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Rules across fields, as (field, message); also run on raw front matter so a
    file with other errors still hears about these."""
    kind = data.get("type")
    problems = []
    if kind == "competitor" and not data.get("competitors"):
        problems.append(("competitors", "a competitor atom must list the competitor's names"))
    if kind == "playbook" and not data.get("required_roles"):
        problems.append(("required_roles", "a playbook atom must map stages to roles"))
    if kind != "playbook" and data.get("required_roles"):
        problems.append(("required_roles", "only playbook atoms may have required_roles"))
    if kind == "playbook" and data.get("audience") == "customer":
        problems.append(("audience", "a playbook is guidance for the rep: its audience must be internal"))
    if kind != "playbook" and data.get("role_synonyms"):
        problems.append(("role_synonyms", "only playbook atoms may have role_synonyms"))
    if data.get("status") == "approved" and not data.get("approved_by"):
        problems.append(("approved_by", "an approved atom must name who approved it"))
    return problems


class Atom(BaseModel):
    """One atom file: front matter fields plus ``body`` (and ``path``, where it was read)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=120)
    type: AtomType
    title: str = Field(min_length=1, max_length=200)
    language: Literal["zh", "en"]
    scenario: str = Field(default="", max_length=500)
    industries: list[str] = Field(default_factory=list)
    stages: list[Stage] = Field(default_factory=list)
    personas: list[Role] = Field(default_factory=list)
    competitors: list[str] = Field(default_factory=list)
    legal_basis: list[str] = Field(default_factory=list)
    audience: Audience | None = None  # None: the type's default (``DEFAULT_AUDIENCE``)
    status: AtomStatus
    owner: str = ""
    approved_by: str = ""
    valid_until: date | None = None
    version: int = Field(ge=1)
    required_roles: dict[Stage, list[Role]] = Field(default_factory=dict)
    # Words content owners add to the buying-role vocabulary ("临床运营": business_owner).
    role_synonyms: dict[Role, list[str]] = Field(default_factory=dict)
    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS)
    path: str = ""

    @field_validator("industries", "competitors", "legal_basis")
    @classmethod
    def _no_blank_items(cls, items: list[str]) -> list[str]:
        cleaned = [str(item).strip() for item in items]
        if any(not item for item in cleaned):
            raise ValueError("list items must not be empty")
        return cleaned

    @field_validator("role_synonyms")
    @classmethod
    def _clean_synonyms(cls, synonyms: dict[str, list[str]]) -> dict[str, list[str]]:
        cleaned = {role: [str(word).strip() for word in words] for role, words in synonyms.items()}
        for role, words in cleaned.items():
            if any(not word or len(word) > 60 for word in words):
                raise ValueError(f"{role}: synonyms must be non-empty words of at most 60 characters")
        return cleaned

    @model_validator(mode="after")
    def _default_audience(self) -> Atom:
        if self.audience is None:
            object.__setattr__(self, "audience", DEFAULT_AUDIENCE[self.type])
        return self

    @field_validator("body")
    @classmethod
    def _known_placeholders(cls, body: str) -> str:
        unknown = sorted({m for m in _PLACEHOLDER.findall(body) if m not in PLACEHOLDERS})
        if unknown:
            allowed = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
            raise ValueError(f"unknown placeholder(s) {unknown}; allowed: {allowed}")
        return body.strip()

    @model_validator(mode="after")
    def _type_rules(self) -> Atom:
        problems = type_rule_problems(self.model_dump())
        if problems:
            raise ValueError("\n".join(f"{field}: {message}" for field, message in problems))
        return self

    @property
    def for_customer(self) -> bool:
        """Whether the text may be sent, quoted or adapted in a reply to the customer."""
        return (self.audience or DEFAULT_AUDIENCE[self.type]) == "customer"

    def is_served(self, today: date) -> bool:
        """Only approved, unexpired atoms are ever shown to a rep."""
        return self.status == "approved" and (self.valid_until is None or self.valid_until >= today)

    @property
    def content_hash(self) -> str:
        """Digest of everything but ``path``: changes when the atom must be re-embedded."""
        data = self.model_dump(mode="json", exclude={"path"})
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def canonical_competitor(self) -> str:
        return self.competitors[0] if self.competitors else ""

    def fill(self, *, customer: str, product: str, rep: str) -> str:
        """The body with ``{customer}``, ``{product}`` and ``{rep}`` filled in."""
        values = {"customer": customer, "product": product, "rep": rep}
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), self.body)
