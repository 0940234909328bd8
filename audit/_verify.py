"""Walk a log's rows in seq order and say whether they still form the chain.

Backend-neutral: a backend hands over its rows as ``StoredRow`` (seq, the hashed
canonical JSON text exactly as stored, and the stored hash) and the path of its
head checkpoint. A row is good when its seq follows the previous one and
``sha256(previous row's hash + body)`` is its stored hash: that one check covers
edits, deletions and reordering. The body is parsed only to say which it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ._chain import GENESIS_HASH, text_hash
from ._checkpoint import Checkpoint, read_checkpoint
from ._store import VerifyReport

__all__ = ["StoredRow", "verify_chain"]


@dataclass(frozen=True, slots=True)
class StoredRow:
    seq: int
    body: str
    """The row as canonical JSON without ``hash``: the text that was hashed."""
    hash: str


def _why_unlinked(row: StoredRow, prev_hash: str) -> str:
    """Why ``row`` does not link to ``prev_hash``."""
    try:
        data = json.loads(row.body)
    except ValueError:
        return "unreadable row: row edited"
    if not isinstance(data, dict):
        return "unreadable row: row edited"
    if text_hash(str(data.get("prev_hash", "")), row.body) != row.hash:
        return "hash mismatch: row edited"
    return "prev_hash mismatch: row deleted or reordered"


def _check_head(checkpoint: Checkpoint | None, head: StoredRow | None, hash_at_checkpoint: str | None) -> str:
    head_seq = head.seq if head is not None else 0
    if checkpoint is None:
        return "head checkpoint missing" if head is not None else ""
    if checkpoint.seq > head_seq:
        return "head checkpoint mismatch: newest rows deleted"
    expected = GENESIS_HASH if checkpoint.seq == 0 else hash_at_checkpoint
    if expected != checkpoint.hash:
        return "head checkpoint mismatch: rows rewritten up to the checkpoint"
    return ""


def verify_chain(rows: Iterable[StoredRow], checkpoint_path: Path) -> VerifyReport:
    """Check ``rows`` (oldest first) against each other and the head checkpoint.

    The checkpoint is read before the first row is pulled from ``rows``, so a
    concurrent append can only make the log longer than the checkpoint, which
    is fine.
    """
    try:
        checkpoint = read_checkpoint(checkpoint_path)
    except ValueError as exc:
        return VerifyReport(ok=False, rows_checked=0, reason=str(exc))
    prev_hash, checked = GENESIS_HASH, 0
    head: StoredRow | None = None
    hash_at_checkpoint: str | None = None
    for row in rows:
        checked += 1
        expected_seq = head.seq + 1 if head is not None else 1
        if row.seq != expected_seq:
            return _report(False, checked, head, f"sequence gap at {expected_seq}: row deleted", expected_seq)
        if text_hash(prev_hash, row.body) != row.hash:
            return _report(False, checked, head, _why_unlinked(row, prev_hash), row.seq)
        if checkpoint is not None and row.seq == checkpoint.seq:
            hash_at_checkpoint = row.hash
        prev_hash, head = row.hash, row
    reason = _check_head(checkpoint, head, hash_at_checkpoint)
    if not reason:
        return _report(True, checked, head, "", None)
    head_seq = head.seq if head is not None else 0
    first_bad: int | None = None
    if checkpoint is not None:
        first_bad = head_seq + 1 if checkpoint.seq > head_seq else checkpoint.seq
    return _report(False, checked, head, reason, first_bad)


def _report(ok: bool, checked: int, head: StoredRow | None, reason: str, bad_seq: int | None) -> VerifyReport:
    return VerifyReport(
        ok=ok,
        rows_checked=checked,
        first_bad_seq=bad_seq,
        reason=reason,
        head_seq=head.seq if head is not None else 0,
        head_hash=head.hash if head is not None else GENESIS_HASH,
    )
