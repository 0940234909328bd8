"""Group commit: concurrent appends in one process share one transaction and one fsync.

A caller queues its batch. If no write is under way it becomes the leader: it
takes every batch queued so far, writes them in one transaction (each batch in
its own savepoint, so one refused batch does not fail the others), then hands
the lead to the next waiting caller, if any, and returns. Nobody waits for more
than the transaction in flight plus its own, and a burst of presses costs one
commit instead of one each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._events import AuditEvent

__all__ = ["GroupCommit", "Pending"]


@dataclass
class Pending:
    """One caller's batch, and what became of it."""

    batch: list[AuditEvent]
    prepared: Any = None
    """What the caller computed from ``batch`` before queueing (for ``write``)."""
    linked: Any = None
    """What ``write`` chained, to build ``result`` from once the write lock is released."""
    result: list[AuditEvent] | None = None
    error: BaseException | None = None
    lead: bool = False
    wake: threading.Event = field(default_factory=threading.Event)

    @property
    def settled(self) -> bool:
        return self.result is not None or self.error is not None


class GroupCommit:
    """Serialises ``write(group)`` calls, batching whatever queued meanwhile.

    ``write`` must settle every ``Pending`` of the group (set ``result`` or
    ``error``); one it leaves unsettled gets the exception ``write`` raised.
    """

    def __init__(self, write: Callable[[list[Pending]], None]) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._queue: list[Pending] = []
        self._leading = False

    def submit(self, batch: list[AuditEvent], prepared: Any = None) -> list[AuditEvent]:
        pending = Pending(batch, prepared)
        with self._lock:
            self._queue.append(pending)
            if not self._leading:
                self._leading = pending.lead = True
        if not pending.lead:
            pending.wake.wait()
        if pending.lead and not pending.settled:
            self._lead()
        if pending.error is not None:
            raise pending.error
        assert pending.result is not None
        return pending.result

    def _lead(self) -> None:
        with self._lock:
            group, self._queue = self._queue, []
        try:
            self._write(group)
        except BaseException as exc:
            for pending in group:
                if not pending.settled:
                    pending.error = exc
            if not isinstance(exc, Exception):
                raise
        finally:
            with self._lock:
                if self._queue:
                    successor = self._queue[0]
                    successor.lead = True
                    successor.wake.set()
                else:
                    self._leading = False
            for pending in group:
                pending.wake.set()
