"""The suite file format: pydantic models, one per assertion type.

A suite is a YAML file (``evals/suites/*.yaml``) of cases; each case is one
conversation (inline, or a file in the DESIGN.md format), the assertions its
SuggestionSet must meet, and optional tags and weights. ``suite.schema.json``
is generated from these models for editors (``yaml-language-server``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from copilot import Deal

__all__ = [
    "ASSERTION_TYPES",
    "Assertion",
    "Case",
    "Cites",
    "CompetitorIs",
    "Compliant",
    "ContainsAny",
    "CoveredRoles",
    "EngineIs",
    "GuidanceCites",
    "LlmRubric",
    "MaxLatencyMs",
    "MissingRoles",
    "NeverCites",
    "NoFallback",
    "NotContains",
    "SimilarTo",
    "SuggestionCount",
    "Suite",
    "suite_json_schema",
]

DEFAULT_TODAY = date(2026, 11, 22)
Role = Literal["ceo", "cfo", "cto", "procurement", "legal", "it_security", "business_owner", "end_user"]
# Where in a SuggestionSet a text or citation assertion looks: "sendable" is what the
# rep may send (suggestions and the competitor answer); "all" adds guidance and next action.
Scope = Literal["suggestions", "top", "competitor", "sendable", "guidance", "next_action", "all"]
_IDS = Field(min_length=1, description="Atom ids; '*' matches any run of characters (pol-ad-law-*).")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Assertion(_Model):
    weight: float = Field(default=1.0, ge=0, description="Share of the case score; 0 = informational.")
    description: str = Field(default="", max_length=500, description="Why this matters, for the report.")


class Cites(_Assertion):
    """The shown output cites all (or any) of these atoms."""

    type: Literal["cites"]
    atoms: list[str] = _IDS
    mode: Literal["all", "any"] = "all"
    scope: Scope = "suggestions"


class NeverCites(_Assertion):
    """None of these atoms is cited anywhere (suggestions, competitor, guidance)."""

    type: Literal["never_cites"]
    atoms: list[str] = _IDS


class GuidanceCites(_Assertion):
    """The rep's guidance cites all (or any) of these atoms (policy atoms, for instance)."""

    type: Literal["guidance_cites"]
    atoms: list[str] = _IDS
    mode: Literal["all", "any"] = "any"


class CompetitorIs(_Assertion):
    """The competitor answer names this canonical competitor; null = no competitor answer."""

    type: Literal["competitor"]
    name: str | None
    cites: list[str] = Field(default_factory=list, description="Battlecards it must cite (any of).")


class MissingRoles(_Assertion):
    """The decision chain's missing roles are exactly this set."""

    type: Literal["missing_roles"]
    roles: list[Role]


class CoveredRoles(_Assertion):
    """Each of these roles is covered (by title or by what the conversation says)."""

    type: Literal["covered_roles"]
    roles: list[Role] = Field(min_length=1)
    exact: bool = Field(default=False, description="true: the covered set is exactly these roles.")


class ContainsAny(_Assertion):
    """Some text in scope contains one of these substrings (or matches one regex)."""

    type: Literal["contains_any"]
    values: list[str] = Field(min_length=1)
    regex: bool = False
    ignore_case: bool = True
    scope: Scope = "suggestions"


class NotContains(_Assertion):
    """No text in scope contains any of these substrings (or matches any regex)."""

    type: Literal["not_contains"]
    values: list[str] = Field(min_length=1)
    regex: bool = False
    ignore_case: bool = True
    scope: Scope = "sendable"


class Compliant(_Assertion):
    """Everything shown passes the compliance guard unchanged, and no internal-audience
    atom's text (policy, playbook, or ``audience: internal``) appears in a suggestion
    or the competitor answer."""

    type: Literal["compliant"]


class SuggestionCount(_Assertion):
    type: Literal["suggestion_count"]
    min: int = Field(default=1, ge=0)
    max: int = Field(default=3, ge=0)


class MaxLatencyMs(_Assertion):
    """The press's total time (``timings_ms.total``) stays under this many milliseconds."""

    type: Literal["max_latency_ms"]
    ms: float = Field(gt=0)


class EngineIs(_Assertion):
    type: Literal["engine"]
    engine: Literal["grounded", "llm"]


class NoFallback(_Assertion):
    """The model's output was used (``fallback`` is null)."""

    type: Literal["no_fallback"]


class SimilarTo(_Assertion):
    """Embedding cosine similarity of a suggestion to a reference reply."""

    type: Literal["similar_to"]
    reference: str = Field(min_length=1)
    threshold: float = Field(default=0.6, ge=-1, le=1)
    scope: Literal["top", "any"] = "any"


class LlmRubric(_Assertion):
    """A judge prompt run by the configured model; skipped (with a notice) when none is."""

    type: Literal["llm_rubric"]
    rubric: str = Field(min_length=1)
    scope: Literal["suggestions", "top", "competitor", "guidance", "all"] = "suggestions"


Assertion = Annotated[
    Cites
    | NeverCites
    | GuidanceCites
    | CompetitorIs
    | MissingRoles
    | CoveredRoles
    | ContainsAny
    | NotContains
    | Compliant
    | SuggestionCount
    | MaxLatencyMs
    | EngineIs
    | NoFallback
    | SimilarTo
    | LlmRubric,
    Field(discriminator="type"),
]
ASSERTION_TYPES: tuple[str, ...] = (
    "cites",
    "never_cites",
    "guidance_cites",
    "competitor",
    "missing_roles",
    "covered_roles",
    "contains_any",
    "not_contains",
    "compliant",
    "suggestion_count",
    "max_latency_ms",
    "engine",
    "no_fallback",
    "similar_to",
    "llm_rubric",
)


class Case(_Model):
    """One Suggest press and what its result must show."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=120)
    description: str = Field(default="", max_length=1000)
    tags: list[str] = Field(default_factory=list)
    conversation: str | dict[str, Any] = Field(
        description=(
            "A conversation file (path relative to the suite) or an inline conversation in the "
            "DESIGN.md format; an inline one may omit id and channel."
        )
    )
    deal: Deal | None = Field(default=None, description="Overrides the conversation's deal.")
    engines: list[Literal["grounded", "llm"]] = Field(
        default_factory=list, description="Run only on these engines (default: every engine)."
    )
    assertions: list[Assertion] = Field(alias="assert", min_length=1)
    threshold: float = Field(
        default=1.0, ge=0, le=1, description="Weighted share of assertions that must pass."
    )

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Suite(_Model):
    """A YAML suite file: shared settings and its cases."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=80)
    description: str = ""
    kb: str | None = Field(
        default=None,
        description="Knowledge base folder, relative to the suite file (default: the sample examples/kb).",
    )
    today: date = Field(
        default=DEFAULT_TODAY, description="The fixed date every press runs on (decides expiry)."
    )
    tags: list[str] = Field(default_factory=list, description="Tags every case gets.")
    cases: list[Case] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Suite:
        ids = [case.id for case in self.cases]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"case id(s) {twice} appear more than once")
        return self


def suite_json_schema() -> dict[str, Any]:
    """The JSON Schema of a suite file (``evals/suite.schema.json``)."""
    schema = Suite.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Sales Copilot eval suite"
    return schema
