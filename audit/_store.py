"""The ``AuditStore`` protocol every backend implements, and ``VerifyReport``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from pydantic import BaseModel, ConfigDict

from copilot.errors import AuditIntegrityError

from ._checkpoint import NamedCheckpoint
from ._events import AuditEvent
from ._facts import Fact

__all__ = ["AuditStore", "VerifyReport"]


class VerifyReport(BaseModel):
    """What ``AuditStore.verify()`` found.

    ``reason`` is empty when ``ok``; otherwise it names what is wrong, e.g.
    ``"hash mismatch: row edited"``, ``"prev_hash mismatch: row deleted or
    reordered"``, ``"sequence gap at 7: row deleted"``, ``"head checkpoint
    mismatch: newest rows deleted"``, ``"head checkpoint missing"``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    ok: bool
    rows_checked: int
    first_bad_seq: int | None = None
    reason: str = ""
    damage: str = ""
    """``edited``, ``deleted``, ``reordered`` or ``truncated`` (newest rows cut off,
    or the checkpoint that would show it removed); ``unreadable`` when the log or a
    checkpoint cannot be read; empty when ok."""
    head_seq: int = 0
    head_hash: str = ""

    def raise_for_failure(self) -> None:
        """Raise ``AuditIntegrityError`` (with ``row`` = first bad seq) unless ok."""
        if self.ok:
            return
        where = f" at seq {self.first_bad_seq}" if self.first_bad_seq is not None else ""
        message = f"audit log does not verify{where}: {self.reason}"
        raise AuditIntegrityError(message, row=self.first_bad_seq)


class AuditStore(Protocol):
    """An append-only, hash-chained log of ``AuditEvent`` rows.

    Backends implement ``append`` and the reads below; subclass this protocol to
    inherit the context-manager methods. Every backend must pass the shared
    conformance suite in ``tests/test_audit.py``.
    """

    def append(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        """Append ``events`` in order, in one transaction; return them as stored.

        Assigns ``seq``, ``prev_hash`` and ``hash``. Either every event is
        written or none is (``StoreError``).
        """
        ...

    def events(
        self,
        *,
        since_seq: int = 0,
        limit: int | None = None,
        type: str | None = None,
        conversation_id: str | None = None,
        suggestion_set_id: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[AuditEvent]:
        """Stored events with ``seq > since_seq``, oldest first, optionally filtered
        (each filter uses an index; ``since`` inclusive, ``until`` exclusive)."""
        ...

    def facts(self, *, since: datetime | None = None) -> Iterator[Fact]:
        """The compact review facts of events at or after ``since``, in seq order."""
        ...

    def count(self) -> int:
        """Number of stored events."""
        ...

    def verify(self, checkpoints: Sequence[NamedCheckpoint] = ()) -> VerifyReport:
        """Re-check every row's hash, the chain's order, the head checkpoint and
        ``checkpoints`` (exported earlier: each must still be in the log)."""
        ...

    def check_facts(self) -> VerifyReport:
        """Whether every row's facts (what lookups and the one-final-action rule use)
        agree with its hashed body; names the first row whose facts do not."""
        ...

    def purge(self, *, before: datetime, actor: str) -> AuditEvent:
        """Delete the rows before ``before`` (a prefix of the chain) and append a
        ``purge`` event that anchors what remains; ``ActionRefused`` if none."""
        ...

    def unanswered(self, *, shown_before: datetime) -> list[tuple[str, str]]:
        """(set id, rep) of sets shown before ``shown_before`` with no final action."""
        ...

    def recover(self, *, actor: str, reason: str) -> AuditEvent:
        """Append an ``incident`` event to a log that no longer continues its head
        checkpoint, so appends may resume (``ActionRefused`` if nothing to recover)."""
        ...

    def close(self) -> None:
        """Release the connection; further calls raise ``StoreError``."""
        ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
