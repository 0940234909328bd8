"""Domain models shared by every part: conversations in, suggestion sets out.

Each model forbids unknown fields: data is validated at the edge (a connector,
the CLI, an eval suite) and trusted inside.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ._untrusted import MAX_DEAL_FIELD_CHARS, deal_field_problem, visible_text

__all__ = [
    "ATOM_TYPES",
    "ROLES",
    "STAGES",
    "AtomType",
    "CompetitorResponse",
    "ComplianceVerdict",
    "Conversation",
    "CoveredRole",
    "Deal",
    "DecisionChainReport",
    "Evidence",
    "Fallback",
    "Guidance",
    "Message",
    "NextAction",
    "Participant",
    "Provenance",
    "Role",
    "Stage",
    "Suggestion",
    "SuggestionSet",
]

Stage = Literal["discovery", "qualification", "poc", "proposal", "negotiation", "closing", "renewal"]
STAGES: tuple[str, ...] = (
    "discovery",
    "qualification",
    "poc",
    "proposal",
    "negotiation",
    "closing",
    "renewal",
)

AtomType = Literal["script", "objection", "competitor", "policy", "product", "case", "playbook"]
ATOM_TYPES: tuple[str, ...] = get_args(AtomType)

Role = Literal["ceo", "cfo", "cto", "procurement", "legal", "it_security", "business_owner", "end_user"]
ROLES: tuple[str, ...] = (
    "ceo",
    "cfo",
    "cto",
    "procurement",
    "legal",
    "it_security",
    "business_owner",
    "end_user",
)

MAX_MESSAGE_CHARS = 8000
MAX_MESSAGES = 500


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Deal(_Model):
    """The deal's context. Its text fields are customer-controlled and filled into
    replies, so each is a short plain name: no URL, control or bidi character."""

    customer: str = Field(min_length=1, max_length=MAX_DEAL_FIELD_CHARS)
    industry: str = Field(default="", max_length=64)
    stage: Stage = "discovery"
    product: str = Field(default="", max_length=MAX_DEAL_FIELD_CHARS)

    @field_validator("customer", "industry", "product")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        problem = deal_field_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class Participant(_Model):
    id: str = Field(min_length=1, max_length=128)
    name: str = Field(default="", max_length=200)
    side: Literal["rep", "customer", "partner"]
    title: str = Field(default="", max_length=200)


class Message(_Model):
    # "from" is a Python keyword: the JSON field is "from", the attribute is sender.
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    sender: str = Field(alias="from", min_length=1, max_length=128)
    at: datetime | None = None
    text: str = Field(max_length=MAX_MESSAGE_CHARS)


class Conversation(_Model):
    id: str = Field(min_length=1, max_length=256)
    channel: Literal["slack", "wecom", "voice", "email", "cli", "eval"] = "cli"
    deal: Deal
    participants: list[Participant] = Field(default_factory=list)
    messages: list[Message] = Field(min_length=1, max_length=MAX_MESSAGES)

    @field_validator("messages")
    @classmethod
    def _has_text(cls, messages: list[Message]) -> list[Message]:
        if not any(visible_text(m.text) for m in messages):
            raise ValueError(
                "at least one message must have visible text (not only spaces or zero-width characters)"
            )
        return messages

    @model_validator(mode="after")
    def _known_senders(self) -> Conversation:
        ids = [p.id for p in self.participants]
        if len(set(ids)) != len(ids):
            twice = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"participants: id(s) {twice} listed twice")
        if ids:
            for index, message in enumerate(self.messages):
                if message.sender not in ids:
                    raise ValueError(
                        f"messages[{index}].from: {message.sender!r} is not a participant id; "
                        "list every sender in participants"
                    )
        return self

    def participant(self, participant_id: str) -> Participant | None:
        return next((p for p in self.participants if p.id == participant_id), None)

    def side_of(self, message: Message) -> str:
        who = self.participant(message.sender)
        return who.side if who else "customer"

    def rep(self) -> Participant | None:
        return next((p for p in self.participants if p.side == "rep"), None)


class Suggestion(_Model):
    text: str
    citations: list[str] = Field(default_factory=list)
    legal_basis: list[str] = Field(default_factory=list)


class Guidance(_Model):
    """Text for the rep's eyes only (from internal-audience atoms): never a sendable reply."""

    text: str
    citations: list[str] = Field(default_factory=list)
    legal_basis: list[str] = Field(default_factory=list)


class Fallback(_Model):
    """Why the model's output was not shown (``"timeout"``, ``"http 500"``, ``"ungrounded: …"``)."""

    reason: str


class Provenance(_Model):
    """Where one agent's value came from: the engine that produced what is shown, the
    model asked (if any), the prompt ``name@version+sha256[:8]``, and why the model's
    output was not used (``fallback``) or what was dropped or replaced in it."""

    engine: Literal["grounded", "llm"] = "grounded"
    model: str = ""
    prompt: str = ""
    fallback: str | None = None
    dropped_citations: int = 0
    replaced: list[str] = Field(default_factory=list)


class CompetitorResponse(_Model):
    name: str
    claim: str = ""
    response: str
    citations: list[str] = Field(default_factory=list)


class Evidence(_Model):
    message: int
    quote: str


class CoveredRole(_Model):
    role: Role
    state: Literal["involved", "reviewed", "approved"]
    who: str = ""
    evidence: Evidence | None = None


class NextAction(_Model):
    text: str
    deadline_hours: int


class DecisionChainReport(_Model):
    required_roles: list[Role] = Field(default_factory=list)
    covered: list[CoveredRole] = Field(default_factory=list)
    missing_roles: list[Role] = Field(default_factory=list)
    next_action: NextAction | None = None
    playbook: str | None = None


class ComplianceVerdict(_Model):
    target: str
    rule: str
    basis: str
    action: Literal["repaired", "blocked"]
    detail: str = ""


class SuggestionSet(_Model):
    id: str
    conversation_id: str
    engine: str
    fallback: Fallback | None = None
    model: str = ""
    language: Literal["zh", "en"] = "zh"
    suggestions: list[Suggestion]
    competitor: CompetitorResponse | None = None
    decision_chain: DecisionChainReport
    guidance: list[Guidance] = Field(default_factory=list)
    compliance: list[ComplianceVerdict] = Field(default_factory=list)
    prompt_versions: dict[str, str] = Field(default_factory=dict)
    provenance: dict[str, Provenance] = Field(default_factory=dict)
    atom_versions: dict[str, int] = Field(default_factory=dict)
    timings_ms: dict[str, float] = Field(default_factory=dict)
