"""The decision audit event: one row of the append-only log."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    field_serializer,
    field_validator,
    model_validator,
)

from ._chain import canonical_json

__all__ = ["AuditEvent", "EventType", "RepAction", "iso_utc"]

EventType = Literal[
    "suggestion_shown", "rep_action", "feedback", "atom_changed", "purge", "incident", "review_viewed"
]
"""``review_viewed``: a reviewer opened a /review page showing other people's sets (actor = the
reviewer, ``reason`` = the page and its filters, ``output.reps`` = whose sets it showed)."""
RepAction = Literal["sent_as_is", "edited", "dismissed", "wrote_own", "ignored"]

_SHA256_OR_EMPTY = r"^([0-9a-f]{64})?$"


def iso_utc(value: datetime) -> str:
    """``value`` as stored in the log: ISO-8601 in UTC with microseconds (naive = UTC)."""
    if value.tzinfo is not UTC:  # validated events are in UTC already
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")


def _new_event_id() -> str:
    """32 hex digits: milliseconds since 1970 (12), then 80 random bits (20). Ids that
    grow with time keep the unique index's inserts at its end: a commit of 100 events
    writes about 40 % fewer pages than with random ids."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


def _now() -> datetime:
    return datetime.now(UTC)


class AuditEvent(BaseModel):
    """One decision audit event.

    Build it with the fields you know; the store assigns ``seq``, ``prev_hash``
    and ``hash`` when it appends (values you pass there are replaced). Text in
    ``input``, ``output`` and ``final_text`` must already be redacted.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str = Field(default_factory=_new_event_id, min_length=1, max_length=128)
    seq: int | None = Field(default=None, ge=1, description="Position in the log; assigned by the store.")
    at: AwareDatetime = Field(default_factory=_now, description="When it happened; stored in UTC.")
    type: EventType
    actor: str = Field(default="", description="Rep or manager id.")
    conversation_id: str = ""
    suggestion_set_id: str = ""
    input_digest: str = Field(
        default="", pattern=_SHA256_OR_EMPTY, description="SHA-256 hex of the raw input."
    )
    input: dict[str, JsonValue] | None = Field(default=None, description="The redacted input.")
    output: dict[str, JsonValue] | None = None
    engine: str = ""
    model: str = ""
    prompt_versions: dict[str, str] = Field(default_factory=dict)
    atoms: dict[str, int] = Field(default_factory=dict, description="Atom id -> version.")
    latency_ms: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    action: RepAction | None = None
    suggestion_index: int | None = Field(
        default=None, ge=0, description="Which suggestion of the set an action or feedback is about."
    )
    final_text: str | None = None
    edit_distance: int | None = Field(default=None, ge=0)
    helpful: bool | None = None
    atom_id: str = Field(default="", description="The atom a feedback event is about, if any.")
    reason: str = Field(default="", description="Why (feedback reason, sweep window, purge range).")
    prev_hash: str = Field(default="", pattern=_SHA256_OR_EMPTY)
    hash: str = Field(default="", pattern=_SHA256_OR_EMPTY)

    @field_validator("at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @field_validator("input", "output")
    @classmethod
    def _canonical(cls, value: dict[str, JsonValue] | None) -> dict[str, JsonValue] | None:
        if value is not None:
            canonical_json(value)  # raises ValueError for NaN, infinity, lone surrogates
        return value

    @model_validator(mode="after")
    def _fields_fit_type(self) -> AuditEvent:
        problem = ""
        if self.type == "rep_action" and self.action is None:
            problem = "a rep_action event needs an action: sent_as_is, edited, dismissed, wrote_own, ignored"
        elif self.type != "rep_action" and self.action is not None:
            problem = f"action is only for rep_action events, not {self.type}"
        elif self.type == "feedback" and self.helpful is None:
            problem = "a feedback event needs helpful (true or false)"
        if problem:
            raise ValueError(problem)
        canonical_json(self.chain_row())  # every text must be valid Unicode to be hashed
        return self

    @field_serializer("at")
    def _iso_utc(self, value: datetime) -> str:
        return iso_utc(value)

    def chain_row(self) -> dict[str, Any]:
        """The event as JSON data without ``hash``: what the chain hashes."""
        return self.model_dump(mode="json", exclude={"hash"})
