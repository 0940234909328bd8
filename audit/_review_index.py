"""The suggestion sets as rows for the managers' web view, kept in memory and up to date.

Built once from the compact facts (``AuditStore.facts()``), then kept current from
``AuditStore.events(since_seq=head)``: a page view costs one indexed query when
nothing was appended. A ``purge`` rebuilds it. Only the store's public reads are
used, so any backend works.

Compliance notes are in the event bodies, not the facts: sets added after the
build carry them at once; for the sets of the build a background pass
(``read_compliance``) reads the bodies of the window a dashboard asks about, and
until it has, the figures say how many sets they cover.
"""

from __future__ import annotations

import functools
import gc
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._events import AuditEvent, iso_utc
from ._facts import Fact, fact_of
from ._store import AuditStore

__all__ = ["ReviewIndex", "SetRow"]

logger = logging.getLogger("copilot.audit")

_REBUILD_AFTER = 20_000
"""More new events than this since the last look: re-read the facts instead of the bodies."""


@functools.lru_cache(maxsize=8192)
def _roles(text: str) -> tuple[str, ...]:
    try:
        value = json.loads(text)
    except ValueError:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


@functools.lru_cache(maxsize=8192)
def _citations(text: str) -> tuple[tuple[str, ...], ...]:
    try:
        value = json.loads(text)
    except ValueError:
        return ()
    if not isinstance(value, list):
        return ()
    return tuple(tuple(str(c) for c in cited) if isinstance(cited, list) else () for cited in value)


@functools.lru_cache(maxsize=4096)
def _intern(text: str) -> str:
    return text


@dataclass(slots=True)
class SetRow:
    """One suggestion set: what was shown (from its facts) and what the rep did with it."""

    set_id: str
    at: str
    """When it was shown, ISO-8601 UTC (sorts as text)."""
    rep: str
    engine: str
    competitor: str
    missing_roles: tuple[str, ...]
    fallback: bool
    latency_ms: float | None
    citations: tuple[tuple[str, ...], ...]
    action: str | None = None
    index: int | None = None
    edit_distance: int | None = None
    helpful: int = 0
    not_helpful: int = 0
    blocked: int | None = None
    """Suggestions the compliance guard blocked; None until the body was read."""
    repaired: int | None = None

    @property
    def atoms(self) -> set[str]:
        return {atom for cited in self.citations for atom in cited}


def _compliance(event: AuditEvent) -> tuple[int, int]:
    notes = (event.output or {}).get("compliance")
    blocked = repaired = 0
    for note in notes if isinstance(notes, list) else []:
        if isinstance(note, dict):
            blocked += note.get("action") == "blocked"
            repaired += note.get("action") == "repaired"
    return blocked, repaired


class ReviewIndex:
    """Every suggestion set of one audit log, newest last; thread-safe."""

    def __init__(self, store: AuditStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._rows: dict[str, SetRow] = {}
        self._head = 0
        self._built = False
        self._compliance_since: str | None = None
        """Sets shown at or after this have their compliance counts (None: none read yet)."""
        self._reading = False
        self.version = 0
        """Changes whenever the rows change (for caches of figures derived from them)."""

    # -- keeping up ------------------------------------------------------------------------

    def refresh(self) -> None:
        """Catch up with the log (build it on first use)."""
        with self._lock:
            if not self._built:
                self._build()
                return
            far = next(self.store.events(since_seq=self._head + _REBUILD_AFTER, limit=1), None)
            new = [] if far is not None else list(self.store.events(since_seq=self._head))
            if far is not None or any(e.type == "purge" for e in new):
                self._build()
                return
            changed = [self._apply(fact_of(event), event) for event in new]
            if any(changed):
                self.version += 1

    def _build(self) -> None:
        started = time.perf_counter()
        self._rows = {}
        self._head = 0
        self._compliance_since = None
        rows: dict[str, SetRow] = {}
        head = 0
        collecting = gc.isenabled()
        gc.disable()  # a million new objects, none cyclic: collection passes only cost time (~30 %)
        try:
            head = self._fill(rows)
        finally:
            if collecting:
                gc.enable()
        self._rows, self._head = rows, head
        self._built = True
        self.version += 1
        logger.info(
            "review index built: %d sets to seq %d in %.1f s",
            len(self._rows),
            self._head,
            time.perf_counter() - started,
        )

    def _fill(self, rows: dict[str, SetRow]) -> int:
        """Rows from the facts; the seq of the last fact."""
        head = 0
        get, intern, roles, citations = rows.get, _intern, _roles, _citations
        for fact in self.store.facts():  # the hot loop of a cold start: ~1 M facts, kept lean
            head = fact.seq
            kind = fact.type
            if kind == "suggestion_shown":
                rows[fact.set_id] = SetRow(
                    fact.set_id,
                    fact.at,
                    intern(fact.actor),
                    intern(fact.engine),
                    intern(fact.competitor),
                    roles(fact.missing_roles),
                    fact.fallback == 1,
                    fact.latency_ms,
                    citations(fact.citations),
                )
            elif kind == "rep_action":
                row = get(fact.set_id)
                if row is not None and row.action is None:
                    row.action, row.index, row.edit_distance = (
                        intern(fact.action or ""),
                        fact.idx,
                        fact.edit_distance,
                    )
            elif kind == "feedback":
                row = get(fact.set_id)
                if row is not None:
                    row.helpful += fact.helpful == 1
                    row.not_helpful += fact.helpful == 0
        return head

    def _apply(self, fact: Fact, event: AuditEvent | None) -> bool:
        """Take one event into the rows; whether a set changed."""
        self._head = fact.seq
        if fact.type == "suggestion_shown":
            blocked, repaired = _compliance(event) if event is not None else (None, None)
            self._rows[fact.set_id] = SetRow(
                set_id=fact.set_id,
                at=fact.at,
                rep=_intern(fact.actor),
                engine=_intern(fact.engine),
                competitor=_intern(fact.competitor),
                missing_roles=_roles(fact.missing_roles),
                fallback=bool(fact.fallback),
                latency_ms=fact.latency_ms,
                citations=_citations(fact.citations),
                blocked=blocked,
                repaired=repaired,
            )
            return True
        row = self._rows.get(fact.set_id)
        if row is None:
            return False
        if fact.type == "rep_action" and row.action is None:
            row.action, row.index, row.edit_distance = (
                _intern(fact.action or ""),
                fact.idx,
                fact.edit_distance,
            )
            return True
        if fact.type == "feedback":
            row.helpful += fact.helpful == 1
            row.not_helpful += fact.helpful == 0
            return True
        return False

    def read_compliance(self, since: datetime) -> None:
        """Read the compliance notes of the sets shown since ``since`` from their bodies (slow:
        run it in a thread); sets already read are skipped."""
        start = iso_utc(since)
        with self._lock:
            done = self._compliance_since
            head = self._head
            if (done is not None and done <= start) or self._reading:
                return  # read already, or a pass is under way
            self._reading = True
        try:
            until = datetime.fromisoformat(done) if done is not None else None
            for event in self.store.events(type="suggestion_shown", since=since, until=until):
                if event.seq is not None and event.seq > head:
                    break
                row = self._rows.get(event.suggestion_set_id)
                if row is not None and row.blocked is None:
                    row.blocked, row.repaired = _compliance(event)
            with self._lock:
                if self._compliance_since is None or start < self._compliance_since:
                    self._compliance_since = start
                self.version += 1
        finally:
            self._reading = False

    # -- reading ---------------------------------------------------------------------------

    def get(self, set_id: str) -> SetRow | None:
        return self._rows.get(set_id)

    def rows(self) -> Iterator[SetRow]:
        """Every set, oldest first (a snapshot: appends during the walk are not seen)."""
        with self._lock:
            snapshot = list(self._rows.values())
        return iter(snapshot)

    def stats(self) -> dict[str, Any]:
        return {"sets": len(self._rows), "head_seq": self._head, "compliance_since": self._compliance_since}
