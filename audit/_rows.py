"""What every backend does the same way: number and hash a batch, load a row, explain refusals."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from typing import Any

from pydantic import JsonValue, ValidationError

from copilot import redact_text
from copilot.errors import AuditIntegrityError, StoreError

from ._chain import canonical_bytes
from ._checkpoint import Checkpoint, TailMismatch
from ._events import AuditEvent, iso_utc

__all__ = [
    "anchor_of",
    "chain_batch",
    "incident_event",
    "json_row",
    "load_event",
    "purge_event",
    "refuse_repeated_ids",
    "refused_error",
    "second_action_error",
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


def chain_batch(
    batch: list[AuditEvent], seq: int, prev_hash: str
) -> tuple[list[AuditEvent], list[tuple[int, str, str]], list[dict[str, Any]]]:
    """Number and hash ``batch`` after the row (``seq``, ``prev_hash``): events as stored,
    rows (seq, body, hash) and the rows as JSON data (for the facts)."""
    stored: list[AuditEvent] = []
    rows: list[tuple[int, str, str]] = []
    data: list[dict[str, Any]] = []
    sha256 = hashlib.sha256
    for event in batch:
        seq += 1
        row = json_row(event)
        row["seq"], row["prev_hash"] = seq, prev_hash
        body = canonical_bytes(row)
        digest = sha256(prev_hash.encode() + body).hexdigest()
        stored.append(event.model_copy(update={"seq": seq, "prev_hash": prev_hash, "hash": digest}))
        rows.append((seq, body.decode("utf-8"), digest))
        data.append(row)
        prev_hash = digest
    return stored, rows, data


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
