"""Walk a log's rows in seq order and say whether they still form the chain.

Backend-neutral: a backend hands over its rows as ``StoredRow`` (seq, the hashed
canonical JSON text exactly as stored, and the stored hash) and the checkpoints
to hold it to (its head checkpoint, and any exported ones). A row is good when
its seq follows the previous one and ``sha256(previous row's hash + body)`` is
its stored hash: that one check covers edits, deletions and reordering. The
body is parsed only to say which it was (``damage``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ._chain import GENESIS_HASH, text_hash
from ._checkpoint import Checkpoint, NamedCheckpoint
from ._store import VerifyReport

__all__ = ["StoredRow", "links_through", "verify_chain", "verify_tail"]


@dataclass(frozen=True, slots=True)
class StoredRow:
    seq: int
    body: str
    """The row as canonical JSON without ``hash``: the text that was hashed."""
    hash: str


def _body_seq(row: StoredRow) -> int | None:
    try:
        data = json.loads(row.body)
    except ValueError:
        return None
    seq = data.get("seq") if isinstance(data, dict) else None
    return seq if isinstance(seq, int) else None


def _why_unlinked(row: StoredRow, prev: StoredRow | None) -> tuple[str, str]:
    """Why ``row`` does not link to the row before it: (reason, damage kind)."""
    try:
        data = json.loads(row.body)
    except ValueError:
        return "unreadable row: row edited", "edited"
    if not isinstance(data, dict):
        return "unreadable row: row edited", "edited"
    if text_hash(str(data.get("prev_hash", "")), row.body) != row.hash:
        return "hash mismatch: row edited", "edited"
    reason = "prev_hash mismatch: row deleted or reordered"
    body_seq = _body_seq(row)
    prev_seq = _body_seq(prev) if prev is not None else 0
    if body_seq == row.seq and prev_seq == row.seq - 1:
        return reason, "edited"  # both rows are where they were written: the previous one was rewritten
    if body_seq is not None and body_seq > row.seq and prev_seq == row.seq - 1:
        return reason, "deleted"  # later rows renumbered down over a deleted one
    return reason, "reordered"


def _check_against(named: NamedCheckpoint, head: StoredRow | None, hash_at: str | None) -> tuple[str, str]:
    checkpoint = named.checkpoint
    head_seq = head.seq if head is not None else 0
    if checkpoint is None:
        if named.required and head is not None:
            return f"{named.name} missing", "truncated"
        return "", ""
    if checkpoint.seq > head_seq:
        return f"{named.name} mismatch: newest rows deleted", "truncated"
    expected = GENESIS_HASH if checkpoint.seq == 0 else hash_at
    if expected != checkpoint.hash:
        return f"{named.name} mismatch: rows rewritten up to the checkpoint", "edited"
    return "", ""


def verify_chain(
    rows: Iterable[StoredRow], checkpoints: Sequence[NamedCheckpoint], *, start: Checkpoint | None = None
) -> VerifyReport:
    """Check ``rows`` (oldest first) against each other and every checkpoint.

    ``start`` is the last purged row (from the log's newest ``purge`` event):
    the remaining chain starts right after it. Read the checkpoints before
    pulling the first row, so that a concurrent append can only make the log
    longer than them, which is fine.
    """
    wanted = {c.checkpoint.seq: c for c in checkpoints if c.checkpoint is not None}
    hashes_at: dict[int, str] = {}
    prev_hash, checked = (start.hash, 0) if start is not None else (GENESIS_HASH, 0)
    first_seq = start.seq + 1 if start is not None else 1
    head: StoredRow | None = None
    for row in rows:
        checked += 1
        expected_seq = head.seq + 1 if head is not None else first_seq
        if row.seq != expected_seq:
            reason = f"sequence gap at {expected_seq}: row deleted"
            return _report(False, checked, head, reason, expected_seq, "deleted")
        if text_hash(prev_hash, row.body) != row.hash:
            reason, damage = _why_unlinked(row, head)
            return _report(False, checked, head, reason, row.seq, damage)
        if row.seq in wanted:
            hashes_at[row.seq] = row.hash
        prev_hash, head = row.hash, row
    return verify_tail(checked, head, checkpoints, hashes_at)


def links_through(
    rows: Iterable[tuple[int, bytes, str]],
    checkpoints: Sequence[NamedCheckpoint],
    *,
    start: Checkpoint | None,
) -> VerifyReport | None:
    """The report when every row (seq, body as UTF-8 bytes, hash) links; None at the first
    that does not (walk again with ``verify_chain`` to name it). One tight loop: no
    objects per row, no decoding, so it runs at the speed of ``hashlib``."""
    wanted = {c.checkpoint.seq for c in checkpoints if c.checkpoint is not None}
    hashes_at: dict[int, str] = {}
    sha256 = hashlib.sha256
    prev_hash = start.hash if start is not None else GENESIS_HASH
    expected = start.seq + 1 if start is not None else 1
    prev = prev_hash.encode()
    for seq, body, digest in rows:
        if seq != expected or sha256(prev + body).hexdigest() != digest:
            return None
        if seq in wanted:
            hashes_at[seq] = digest
        prev_hash, prev, expected = digest, digest.encode(), expected + 1
    checked = expected - (start.seq + 1 if start is not None else 1)
    head = StoredRow(expected - 1, "", prev_hash) if checked else None
    return verify_tail(checked, head, checkpoints, hashes_at)


def verify_tail(
    checked: int, head: StoredRow | None, checkpoints: Sequence[NamedCheckpoint], hashes_at: dict[int, str]
) -> VerifyReport:
    """The report once every row linked: hold the head to each checkpoint."""
    head_seq = head.seq if head is not None else 0
    for named in checkpoints:
        seq = named.checkpoint.seq if named.checkpoint is not None else None
        reason, damage = _check_against(named, head, hashes_at.get(seq) if seq is not None else None)
        if reason:
            first_bad = None if seq is None else (head_seq + 1 if seq > head_seq else seq)
            return _report(False, checked, head, reason, first_bad, damage)
    return _report(True, checked, head, "", None, "")


def _report(
    ok: bool, checked: int, head: StoredRow | None, reason: str, bad_seq: int | None, damage: str
) -> VerifyReport:
    return VerifyReport(
        ok=ok,
        rows_checked=checked,
        first_bad_seq=bad_seq,
        reason=reason,
        damage=damage,
        head_seq=head.seq if head is not None else 0,
        head_hash=head.hash if head is not None else GENESIS_HASH,
    )
