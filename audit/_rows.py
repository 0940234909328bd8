"""What every backend does the same way: number and hash a batch, load a row, explain refusals."""

from __future__ import annotations

import hashlib
import json
import logging
import types
import typing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, JsonValue, ValidationError

from copilot import redact_text
from copilot.errors import AuditIntegrityError, StoreError

from ._chain import canonical_bytes
from ._checkpoint import Checkpoint, TailMismatch
from ._events import AuditEvent, iso_utc
from ._facts import fact_row

__all__ = [
    "Prepared",
    "anchor_of",
    "chain_batch",
    "incident_event",
    "json_row",
    "link",
    "link_rows",
    "load_event",
    "prepare",
    "purge_event",
    "refuse_repeated_ids",
    "refused_error",
    "second_action_error",
    "stamped",
]

logger = logging.getLogger("copilot.audit")


def json_row(event: AuditEvent) -> dict[str, Any]:
    """``event.chain_row()`` five times faster: the field values as they are, ``at`` as text.

    Validation left every field JSON-ready except ``at`` (tests/test_audit_fast.py
    holds this to ``chain_row`` for every event type)."""
    row = event.__dict__.copy()
    del row["hash"]
    row["at"] = iso_utc(row["at"])
    return row


_FIELDS = sorted(name for name in AuditEvent.model_fields if name != "hash")
_BEFORE = tuple(name for name in _FIELDS if name < "prev_hash")
_BETWEEN = tuple(name for name in _FIELDS if "prev_hash" < name < "seq")
_AFTER = tuple(name for name in _FIELDS if name > "seq")
assert _BEFORE and _BETWEEN and _AFTER, "the splice in link() needs fields around prev_hash and seq"


def _may_hold_floats(names: tuple[str, ...]) -> bool:
    """Whether any of these fields can hold a float (only str/int/bool/None fields cannot)."""
    plain = {str, int, bool, type(None), dict[str, str], dict[str, int], AwareDatetime}  # ``at``: text
    for name in names:
        annotation = AuditEvent.model_fields[name].annotation
        args = (
            set(typing.get_args(annotation))
            if typing.get_origin(annotation) in (typing.Union, types.UnionType)
            else {annotation}
        )
        if not all(a in plain or typing.get_origin(a) is typing.Literal for a in args):
            return True
    return False


assert not _may_hold_floats(_BETWEEN) and not _may_hold_floats(_AFTER), "prepare() checks floats in _BEFORE"


@dataclass(slots=True)
class Prepared:
    """An event encoded before its place in the chain is known: the canonical JSON
    around ``prev_hash`` and ``seq`` (keys are sorted, so they fall between these
    parts), and its facts row. ``prepare`` runs in the caller's thread, outside the
    write lock, so that concurrent presses encode while the leader commits."""

    event: AuditEvent
    before: bytes
    between: bytes
    after: bytes
    fact: list[Any]


def prepare(batch: list[AuditEvent]) -> list[Prepared]:
    out: list[Prepared] = []
    for event in batch:
        row = json_row(event)
        row["seq"] = 0
        out.append(
            Prepared(
                event,
                canonical_bytes({k: row[k] for k in _BEFORE})[:-1],
                canonical_bytes({k: row[k] for k in _BETWEEN}, floats=False)[1:-1],
                canonical_bytes({k: row[k] for k in _AFTER}, floats=False)[1:],
                list(fact_row(row)),
            )
        )
    return out


_STAMPED = frozenset({"seq", "prev_hash", "hash"})


def _restamped(event: AuditEvent, seq: int, prev_hash: str, digest: str) -> AuditEvent:
    """``event.model_copy(update={"seq": …, "prev_hash": …, "hash": …})`` at a sixth of
    the cost: the same shallow copy, without pydantic's generic copy machinery (an
    AuditEvent has no extra fields and no private attributes)."""
    values = event.__dict__.copy()
    values["seq"], values["prev_hash"], values["hash"] = seq, prev_hash, digest
    stored = AuditEvent.__new__(AuditEvent)
    object.__setattr__(stored, "__dict__", values)
    object.__setattr__(stored, "__pydantic_fields_set__", event.__pydantic_fields_set__ | _STAMPED)
    object.__setattr__(stored, "__pydantic_extra__", None)
    object.__setattr__(stored, "__pydantic_private__", None)
    return stored


def link_rows(
    prepared: list[Prepared], seq: int, prev_hash: str
) -> tuple[list[tuple[int, str, str]], list[list[Any]]]:
    """Number and hash ``prepared`` after the row (``seq``, ``prev_hash``): the rows
    (seq, body, hash) and the facts rows. What must happen under the write lock."""
    rows: list[tuple[int, str, str]] = []
    facts: list[list[Any]] = []
    sha256 = hashlib.sha256
    prev = prev_hash.encode()
    for p in prepared:
        seq += 1
        body = b"".join((p.before, b',"prev_hash":"', prev, b'",', p.between, b',"seq":%d,' % seq, p.after))
        digest = sha256(prev + body).hexdigest()
        rows.append((seq, body.decode("utf-8"), digest))
        p.fact[0] = seq
        facts.append(p.fact)
        prev = digest.encode()
    return rows, facts


def stamped(prepared: list[Prepared], prev_hash: str, rows: list[tuple[int, str, str]]) -> list[AuditEvent]:
    """The events as stored by ``link_rows`` (which chained them after ``prev_hash``)."""
    stored: list[AuditEvent] = []
    for p, (seq, _, digest) in zip(prepared, rows, strict=True):
        stored.append(_restamped(p.event, seq, prev_hash, digest))
        prev_hash = digest
    return stored


def link(
    prepared: list[Prepared], seq: int, prev_hash: str
) -> tuple[list[AuditEvent], list[tuple[int, str, str]], list[list[Any]]]:
    """``link_rows``, and the events as stored."""
    rows, facts = link_rows(prepared, seq, prev_hash)
    return stamped(prepared, prev_hash, rows), rows, facts


def chain_batch(
    batch: list[AuditEvent], seq: int, prev_hash: str
) -> tuple[list[AuditEvent], list[tuple[int, str, str]], list[list[Any]]]:
    """``link(prepare(batch), seq, prev_hash)``."""
    return link(prepare(batch), seq, prev_hash)


def load_event(seq: int, body: str, digest: str) -> AuditEvent:
    try:
        return AuditEvent.model_validate_json(body).model_copy(update={"hash": digest})
    except ValidationError as exc:
        message = (
            f"audit row seq {seq} is not a valid event ({exc.error_count()} error(s));"
            " run `copilot audit verify`"
        )
        raise AuditIntegrityError(message, row=seq) from exc


def refuse_repeated_ids(batch: list[AuditEvent]) -> None:
    seen: set[str] = set()
    for event in batch:
        if event.event_id in seen:
            message = f"audit event {event.event_id} appears twice in one append; nothing was written"
            raise StoreError(message)
        seen.add(event.event_id)


def second_action_error(batch: list[AuditEvent]) -> str:
    sets = ", ".join(e.suggestion_set_id for e in batch if e.type == "rep_action")
    return (
        f"suggestion set {sets} already has its final action; each set takes one"
        " (see it with: copilot audit show SET_ID). Nothing was written."
    )


def refused_error(where: str, mismatch: TailMismatch) -> AuditIntegrityError:
    """The loud refusal to extend a log that does not continue its checkpoint (also logged)."""
    message = (
        f"ALERT: the audit log {where} refuses new events: {mismatch.detail}. Nothing was written,"
        " and no suggestion will be shown until this is resolved. Run `copilot audit verify` to see"
        " the damage; once investigated, record the incident and resume with:"
        " copilot audit recover --reason 'what happened'"
    )
    logger.critical("%s", message)
    return AuditIntegrityError(message)


def incident_event(
    mismatch: TailMismatch, checkpoint: Checkpoint | None, tail: Checkpoint, actor: str, reason: str
) -> AuditEvent:
    """The event ``recover`` appends: what the log and its checkpoint said, who resumed it, why."""
    before: JsonValue = None if checkpoint is None else {"seq": checkpoint.seq, "hash": checkpoint.hash}
    return AuditEvent(
        type="incident",
        actor=redact_text(actor),
        reason=redact_text(reason),
        output={
            "kind": mismatch.kind,
            "detail": mismatch.detail,
            "checkpoint": before,
            "tail": {"seq": tail.seq, "hash": tail.hash},
        },
    )


def purge_event(before: datetime, actor: str, first: int, through: int, hash_at: str) -> AuditEvent:
    """The event a retention purge appends: which rows went, and the anchor the rest verifies from."""
    return AuditEvent(
        type="purge",
        actor=redact_text(actor),
        reason=f"retention: events before {iso_utc(before)}",
        output={"first_seq": first, "through_seq": through, "hash_at": hash_at, "count": through - first + 1},
    )


def anchor_of(body: str) -> Checkpoint | None:
    """The (seq, hash) a ``purge`` event's body names as the last purged row."""
    try:
        output = json.loads(body).get("output") or {}
        return Checkpoint(seq=int(output["through_seq"]), hash=str(output["hash_at"]))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
