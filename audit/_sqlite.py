"""The embedded audit store: one SQLite file (WAL, synchronous=FULL).

Rows are never updated or deleted: triggers refuse both. Each row is its seq,
the hashed canonical JSON text (``body``) and the hash; the columns used for
filtering are generated from the body, so there is one copy of every fact.
The head checkpoint lives next to the database in ``<db>.head``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from copilot.errors import ActionRefused, AuditIntegrityError, StoreError

from ._chain import GENESIS_HASH, canonical_json, text_hash
from ._checkpoint import Checkpoint, advance_checkpoint
from ._events import AuditEvent, iso_utc
from ._facts import FACT_COLUMNS, Fact, fact_of
from ._migrations import apply_migrations
from ._store import AuditStore, VerifyReport
from ._verify import StoredRow, verify_chain

__all__ = ["SQLiteAuditStore"]

logger = logging.getLogger("copilot.audit")

_PAGE = 1000
_INSERT_FACT = (
    f"INSERT INTO audit_facts ({', '.join(FACT_COLUMNS)}) VALUES ({', '.join('?' * len(FACT_COLUMNS))})"
)
_MIN_SQLITE = (3, 31, 0)  # generated columns


class SQLiteAuditStore(AuditStore):
    """Audit log in the SQLite file ``path``; created and migrated on open.

    Several processes may append to the same file: each append reads the head
    and writes its rows inside one ``BEGIN IMMEDIATE`` transaction. One
    instance may be shared between threads.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_s: float = 5.0) -> None:
        self.path = Path(path)
        self.checkpoint_path = self.path.with_name(self.path.name + ".head")
        self._lock = threading.Lock()
        if sqlite3.sqlite_version_info < _MIN_SQLITE:
            message = (
                f"the audit log needs SQLite {'.'.join(map(str, _MIN_SQLITE))} or newer; this Python has"
                f" {sqlite3.sqlite_version}. Use a newer Python build."
            )
            raise StoreError(message)
        try:
            conn = sqlite3.connect(
                self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(self._open_error(exc)) from exc
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            apply_migrations(conn)
            self._backfill_facts(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(self._open_error(exc)) from exc
        except BaseException:
            conn.close()
            raise
        self._conn: sqlite3.Connection | None = conn

    def __repr__(self) -> str:
        return f"SQLiteAuditStore({str(self.path)!r})"

    # -- writing -----------------------------------------------------------

    def append(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        batch = list(events)
        if not batch:
            return []
        _refuse_repeated_ids(batch)
        started = time.perf_counter()
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                stored, rows = _chain_batch(conn, batch)
                conn.executemany("INSERT INTO audit_events (seq, body, hash) VALUES (?, ?, ?)", rows)
                conn.executemany(_INSERT_FACT, [fact_of(event).row() for event in stored])
                conn.execute("COMMIT")
            except sqlite3.IntegrityError as exc:
                self._rollback(conn)
                if "suggestion_set_id" in str(exc):
                    raise ActionRefused(_second_action_error(batch)) from exc
                raise StoreError(self._duplicate_error(conn, batch, exc)) from exc
            except sqlite3.Error as exc:
                self._rollback(conn)
                raise StoreError(self._append_error(len(batch), exc)) from exc
            except BaseException:
                self._rollback(conn)
                raise
            head = stored[-1]
            self._advance_checkpoint(head)
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.info(
            "audit append: %d event(s), seq %d-%d, head %s, %.1f ms",
            len(stored),
            stored[0].seq,
            head.seq,
            head.hash,
            elapsed_ms,
        )
        return stored

    def _advance_checkpoint(self, head: AuditEvent) -> None:
        assert head.seq is not None
        try:
            advance_checkpoint(self.checkpoint_path, Checkpoint(seq=head.seq, hash=head.hash))
        except (OSError, ValueError) as exc:
            # The rows are committed; failing the append now would invite a retry
            # that duplicates them. The checkpoint lags until the next append;
            # verify() still checks the log against it (or reports it missing).
            logger.warning(
                "audit head checkpoint %s not updated to seq %d: %s", self.checkpoint_path, head.seq, exc
            )

    def _rollback(self, conn: sqlite3.Connection) -> None:
        if not conn.in_transaction:
            return
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            logger.warning("audit rollback on %s failed: %s", self.path, exc)

    # -- reading -----------------------------------------------------------

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
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, not {limit}")
        where, params = ["seq > ?"], []
        for column, value in (
            ("type", type),
            ("conversation_id", conversation_id),
            ("suggestion_set_id", suggestion_set_id),
            ("actor", actor),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("at >= ?")
            params.append(iso_utc(since))
        if until is not None:
            where.append("at < ?")
            params.append(iso_utc(until))
        query = f"SELECT seq, body, hash FROM audit_events WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?"
        after, remaining = since_seq, limit
        while remaining is None or remaining > 0:
            page = _PAGE if remaining is None else min(_PAGE, remaining)
            with self._lock:
                rows = self._connection().execute(query, (after, *params, page)).fetchall()
            for seq, body, digest in rows:
                yield _load_event(seq, body, digest)
            if len(rows) < page:
                return
            after = rows[-1][0]
            remaining = None if remaining is None else remaining - len(rows)

    def facts(self, *, since: datetime | None = None) -> Iterator[Fact]:
        query = f"SELECT {', '.join(FACT_COLUMNS)} FROM audit_facts WHERE at >= ? ORDER BY seq"
        with self._lock:
            rows = self._connection().execute(query, (iso_utc(since) if since else "",)).fetchall()
        return (Fact(*row) for row in rows)

    def _backfill_facts(self, conn: sqlite3.Connection) -> None:
        """Facts for rows written before the facts table existed (or by an older version)."""
        (done,) = conn.execute("SELECT coalesce(max(seq), 0) FROM audit_facts").fetchone()
        (head,) = conn.execute("SELECT coalesce(max(seq), 0) FROM audit_events").fetchone()
        if done >= head:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            query = "SELECT seq, body, hash FROM audit_events WHERE seq > ? ORDER BY seq"
            facts = []
            for row in conn.execute(query, (done,)).fetchall():
                try:
                    facts.append(fact_of(_load_event(*row)).row())
                except AuditIntegrityError as exc:  # verify() names it; reports stop before it
                    logger.warning("audit facts not rebuilt past seq %d: %s", row[0] - 1, exc)
                    break
            conn.executemany(_INSERT_FACT, facts)
            conn.execute("COMMIT")
        except BaseException:
            self._rollback(conn)
            raise

    def count(self) -> int:
        with self._lock:
            (n,) = self._connection().execute("SELECT COUNT(*) FROM audit_events").fetchone()
        return int(n)

    def verify(self) -> VerifyReport:
        with self._lock:
            try:
                cursor = self._connection().execute("SELECT seq, body, hash FROM audit_events ORDER BY seq")
                try:
                    rows = (StoredRow(seq, body, digest) for seq, body, digest in cursor)
                    return verify_chain(rows, self.checkpoint_path)
                finally:
                    cursor.close()
            except sqlite3.DatabaseError as exc:  # corrupted pages: a failed check, not a crash
                return VerifyReport(ok=False, rows_checked=0, reason=f"database unreadable: {exc}")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- helpers -----------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"audit store {self.path} is closed; open it again with open_audit_store()")
        return self._conn

    def _open_error(self, exc: sqlite3.Error) -> str:
        return (
            f"cannot open the audit log {self.path}: {exc}. Check that the folder exists and is writable"
            " (set COPILOT_HOME to change it) and that the file is a Sales Copilot audit database."
        )

    def _append_error(self, count: int, exc: sqlite3.Error) -> str:
        return (
            f"could not append {count} audit event(s) to {self.path}: {exc}. Nothing was written."
            f" If the disk is full, free disk space under COPILOT_HOME ({self.path.parent}) and retry;"
            " if the database is locked, another process held it too long: retry."
        )

    def _duplicate_error(self, conn: sqlite3.Connection, batch: list[AuditEvent], exc: sqlite3.Error) -> str:
        ids = [e.event_id for e in batch]
        marks = ", ".join("?" * len(ids))
        query = f"SELECT event_id FROM audit_events WHERE event_id IN ({marks})"
        which = ", ".join(i for (i,) in conn.execute(query, ids)) or "?"
        return (
            f"audit event(s) {which} already in {self.path} ({exc}); append each event once."
            " Nothing was written."
        )


def _second_action_error(batch: list[AuditEvent]) -> str:
    sets = ", ".join(e.suggestion_set_id for e in batch if e.type == "rep_action")
    return (
        f"suggestion set {sets} already has its final action; each set takes one"
        " (see it with: copilot audit show SET_ID). Nothing was written."
    )


def _refuse_repeated_ids(batch: list[AuditEvent]) -> None:
    seen: set[str] = set()
    for event in batch:
        if event.event_id in seen:
            message = f"audit event {event.event_id} appears twice in one append; nothing was written"
            raise StoreError(message)
        seen.add(event.event_id)


def _chain_batch(
    conn: sqlite3.Connection, batch: list[AuditEvent]
) -> tuple[list[AuditEvent], list[tuple[object, ...]]]:
    """Number and hash ``batch`` after the current head (inside the write transaction)."""
    last = conn.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev_hash = (int(last[0]), str(last[1])) if last is not None else (0, GENESIS_HASH)
    stored: list[AuditEvent] = []
    rows: list[tuple[object, ...]] = []
    for event in batch:
        seq += 1
        placed = event.model_copy(update={"seq": seq, "prev_hash": prev_hash, "hash": ""})
        row = placed.chain_row()
        body = canonical_json(row)
        digest = text_hash(prev_hash, body)
        stored.append(placed.model_copy(update={"hash": digest}))
        rows.append((seq, body, digest))
        prev_hash = digest
    return stored, rows


def _load_event(seq: int, body: str, digest: str) -> AuditEvent:
    try:
        return AuditEvent.model_validate_json(body).model_copy(update={"hash": digest})
    except ValidationError as exc:
        message = (
            f"audit row seq {seq} is not a valid event ({exc.error_count()} error(s));"
            " run `copilot audit verify`"
        )
        raise AuditIntegrityError(message, row=seq) from exc
