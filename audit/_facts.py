"""The few fields of an event that reviews aggregate, kept in a compact side table.

A report over a million events cannot parse a million JSON bodies in two
seconds, so every append also writes one ``audit_facts`` row per event, in the
same transaction. Facts are derived from the hashed body (``fact_of``) and are
not themselves evidence: ``verify`` proves the bodies, and the facts can be
rebuilt from them.

They are also what the log is looked up by (type, conversation, set, rep, time,
event id) and what enforces one final action per set: plain columns written
with the row, where indexes on JSON extracted from each body cost an append
twice as much (``m006`` on both backends).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import orjson

from ._events import AuditEvent, iso_utc

__all__ = ["DIM_COLUMNS", "FACT_COLUMNS", "LOOKUP_SPAN", "Fact", "dims_key", "fact_of", "fact_row"]

FACT_COLUMNS = (
    "seq",
    "type",
    "at",
    "actor",
    "set_id",
    "action",
    "idx",
    "edit_distance",
    "helpful",
    "atom_id",
    "latency_ms",
    "engine",
    "fallback",
    "prompts",
    "competitor",
    "missing_roles",
    "citations",
    "event_id",
    "conversation_id",
)


LOOKUP_SPAN = 1024
"""Rows per span of the rep and conversation lookups, which are indexed by (seq // span,
rep or conversation): new rows then touch the few index pages of the newest span, where
(rep, seq) would touch one page per rep on every commit (half the pages an append wrote).
A lookup probes each span: a thousand index probes per million rows."""

DIM_COLUMNS = ("actor", "engine", "prompts", "competitor", "missing_roles", "citations", "fallback")
"""What a report breaks a shown set down by (besides its final action)."""


@functools.lru_cache(maxsize=65536)
def dims_key(values: tuple[Any, ...]) -> int:
    """A 64-bit key of ``DIM_COLUMNS`` values, so that SQLite groups a million sets by one
    integer (``audit_dims`` maps it back). Distinct combinations number thousands, so a
    collision (about 1 in 10^12 for 10^4 of them) is not a practical concern. Cached: the
    same few combinations recur on every append."""
    digest = hashlib.blake2b(orjson.dumps(list(values)), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass(frozen=True, slots=True)
class Fact:
    seq: int
    type: str
    at: str
    actor: str
    set_id: str
    action: str | None
    idx: int | None
    edit_distance: int | None
    helpful: int | None
    atom_id: str
    latency_ms: float | None
    engine: str
    fallback: int
    prompts: str
    """``agent@version`` for every prompt used, comma-separated."""
    competitor: str
    missing_roles: str
    """JSON list of the buying roles still missing."""
    citations: str
    """JSON list, per suggestion shown, of the atom ids it cited."""
    event_id: str
    conversation_id: str

    def row(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in FACT_COLUMNS)


@functools.lru_cache(maxsize=4096)
def _as_json(value: tuple[Any, ...]) -> str:
    """``json.dumps`` of a list of role names or of citation lists (few distinct ones recur)."""
    return json.dumps([list(v) if isinstance(v, tuple) else v for v in value], ensure_ascii=False)


def _shown_fields(output: dict[str, Any]) -> tuple[int, str, str, str]:
    fallback = 1 if output.get("fallback") else 0
    competitor = output.get("competitor") or {}
    name = str(competitor.get("name", "")) if isinstance(competitor, dict) else ""
    chain = output.get("decision_chain") or {}
    missing = chain.get("missing_roles", []) if isinstance(chain, dict) else []
    suggestions = output.get("suggestions") or []
    citations = tuple(
        tuple(str(c) for c in s.get("citations", [])) if isinstance(s, dict) else () for s in suggestions
    )
    if isinstance(missing, list) and all(isinstance(role, str) for role in missing):
        roles = _as_json(tuple(missing))
    else:
        roles = json.dumps(missing, ensure_ascii=False)
    return fallback, name, roles, _as_json(citations)


def fact_row(row: dict[str, Any]) -> tuple[Any, ...]:
    """The facts, in ``FACT_COLUMNS`` order, of a stored event as JSON data (``seq`` assigned)."""
    fallback, competitor, missing, citations = 0, "", "[]", "[]"
    output = row["output"]
    if row["type"] == "suggestion_shown" and isinstance(output, dict):
        fallback, competitor, missing, citations = _shown_fields(output)
    versions = row["prompt_versions"]
    prompts = ",".join(f"{agent}@{versions[agent]}" for agent in sorted(versions)) if versions else ""
    helpful = row["helpful"]
    return (
        row["seq"],
        row["type"],
        row["at"],
        row["actor"],
        row["suggestion_set_id"],
        row["action"],
        row["suggestion_index"],
        row["edit_distance"],
        None if helpful is None else int(helpful),
        row["atom_id"],
        row["latency_ms"],
        row["engine"],
        fallback,
        prompts,
        competitor,
        missing,
        citations,
        row["event_id"],
        row["conversation_id"],
    )


def fact_of(event: AuditEvent) -> Fact:
    """The facts of a stored event (``seq`` assigned)."""
    assert event.seq is not None
    row = event.__dict__.copy()
    row["at"] = iso_utc(event.at)
    return Fact(*fact_row(row))
