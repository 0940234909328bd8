"""The embedded audit store: one SQLite file (WAL, synchronous=FULL).

Rows are never updated or deleted: triggers refuse both. Each row is its seq,
the hashed canonical JSON text (``body``) and the hash; the columns used for
filtering are generated from the body, so there is one copy of every fact.
The head checkpoint lives next to the database in ``<db>.head``; appends from
every process take ``<db>.lock`` so that the checkpoint always names the tail.
The database, its WAL/SHM files, the checkpoint and the lock are mode 0600.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from copilot.errors import ActionRefused, AuditIntegrityError, StoreError

from ._chain import GENESIS_HASH
from ._checkpoint import (
    Checkpoint,
    NamedCheckpoint,
    TailMismatch,
    check_tail,
    read_checkpoint,
    write_checkpoint,
)
from ._events import AuditEvent, iso_utc
from ._facts import FACT_COLUMNS, Fact, fact_of
from ._group import GroupCommit, Pending
from ._migrations import apply_migrations
from ._rows import (
    chain_batch,
    incident_event,
    load_event,
    refuse_repeated_ids,
    refused_error,
    second_action_error,
)
from ._store import AuditStore, VerifyReport
from ._verify import StoredRow, verify_chain

__all__ = ["SQLiteAuditStore"]

logger = logging.getLogger("copilot.audit")

_PAGE = 1000
_MIN_SQLITE = (3, 31, 0)  # generated columns
_INSERT_ROW = "INSERT INTO audit_events (seq, body, hash) VALUES (?, ?, ?)"
_INSERT_FACT = (
    f"INSERT OR REPLACE INTO audit_facts ({', '.join(FACT_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(FACT_COLUMNS))})"
)
PRIVATE = 0o600


def _create_private(path: Path) -> None:
    """Create ``path`` as an empty file readable by its owner only (unless it exists)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE))


class SQLiteAuditStore(AuditStore):
    """Audit log in the SQLite file ``path``; created and migrated on open.

    Several processes may append to the same file; within one process,
    concurrent appends are committed together (group commit). One instance may
    be shared between threads. ``read_only=True`` opens an existing log without
    writing anything (falling back to SQLite's immutable mode on a read-only
    copy), for ``verify`` and reports.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, busy_timeout_s: float = 5.0, read_only: bool = False
    ) -> None:
        self.path = Path(path)
        self.checkpoint_path = self.path.with_name(self.path.name + ".head")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.read_only = read_only
        self._busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()
        self._group = GroupCommit(self._write_group)
        self._lock_fd: int | None = None
        if sqlite3.sqlite_version_info < _MIN_SQLITE:
            message = (
                f"the audit log needs SQLite {'.'.join(map(str, _MIN_SQLITE))} or newer; this Python has"
                f" {sqlite3.sqlite_version}. Use a newer Python build."
            )
            raise StoreError(message)
        self._conn: sqlite3.Connection | None = self._open_read_only() if read_only else self._open()

    def _open(self) -> sqlite3.Connection:
        try:
            _create_private(self.path)
            conn = sqlite3.connect(
                self.path, timeout=self._busy_timeout_s, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
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
        return conn

    def _open_read_only(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise StoreError(f"no audit log at {self.path}; is COPILOT_HOME right?")
        uri = f"file:{quote(str(self.path.resolve()))}"
        last: sqlite3.Error | None = None
        for mode in ("mode=ro", "immutable=1"):  # immutable: a copy on read-only media, no -shm possible
            try:
                conn = sqlite3.connect(
                    f"{uri}?{mode}", uri=True, isolation_level=None, check_same_thread=False
                )
            except sqlite3.Error as exc:
                last = exc
                continue
            try:
                conn.execute("SELECT name, applied_at FROM _migrations").fetchall()  # the schema's pages
                conn.execute("SELECT count(*) FROM audit_events WHERE seq = 0").fetchone()
            except sqlite3.Error as exc:
                conn.close()
                last = exc
                continue
            return conn
        assert last is not None
        raise StoreError(self._open_error(last))

    def __repr__(self) -> str:
        return f"SQLiteAuditStore({str(self.path)!r})"

    # -- writing -----------------------------------------------------------

    def append(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        batch = list(events)
        if not batch:
            return []
        if self.read_only:
            raise StoreError(f"audit store {self.path} was opened read-only; open it again to append")
        refuse_repeated_ids(batch)
        return self._group.submit(batch)

    def _write_group(self, group: list[Pending]) -> None:
        started = time.perf_counter()
        with self._lock, self._file_lock():
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                tail, _, mismatch = self._tail_check(conn)
                if mismatch is not None:
                    raise refused_error(str(self.path), mismatch)
                seq, prev_hash = tail.seq, tail.hash
                for pending in group:
                    seq, prev_hash = self._write_batch(conn, pending, seq, prev_hash)
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback(conn)
                count = sum(len(p.batch) for p in group if p.error is None)
                for pending in group:
                    pending.result = None
                raise StoreError(self._append_error(count, exc)) from exc
            except BaseException:
                self._rollback(conn)
                for pending in group:
                    pending.result = None
                raise
            if seq != tail.seq:
                self._write_head(Checkpoint(seq=seq, hash=prev_hash))
        written = [p.result for p in group if p.result]
        if written:
            elapsed_ms = (time.perf_counter() - started) * 1000
            first, head = written[0][0], written[-1][-1]
            logger.info(
                "audit append: %d event(s) in %d batch(es), seq %s-%s, head %s, %.1f ms",
                sum(len(r) for r in written),
                len(written),
                first.seq,
                head.seq,
                head.hash,
                elapsed_ms,
            )

    def _write_batch(
        self, conn: sqlite3.Connection, pending: Pending, seq: int, prev: str
    ) -> tuple[int, str]:
        """One caller's batch in its own savepoint; a refused batch leaves the others alone."""
        stored, rows = chain_batch(pending.batch, seq, prev)
        conn.execute("SAVEPOINT batch")
        try:
            conn.executemany(_INSERT_ROW, rows)
            conn.executemany(_INSERT_FACT, [fact_of(event).row() for event in stored])
        except sqlite3.IntegrityError as exc:
            conn.execute("ROLLBACK TO batch")
            conn.execute("RELEASE batch")
            if "suggestion_set_id" in str(exc):
                pending.error = ActionRefused(second_action_error(pending.batch))
            else:
                pending.error = StoreError(self._duplicate_error(conn, pending.batch, exc))
            return seq, prev
        conn.execute("RELEASE batch")
        pending.result = stored
        return stored[-1].seq or seq, stored[-1].hash

    def _tail_check(
        self, conn: sqlite3.Connection
    ) -> tuple[Checkpoint, Checkpoint | None, TailMismatch | None]:
        """The log's tail, its checkpoint, and why the first does not continue the second."""
        last = conn.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
        tail = Checkpoint(int(last[0]), str(last[1])) if last is not None else Checkpoint(0, GENESIS_HASH)
        try:
            checkpoint = read_checkpoint(self.checkpoint_path)
        except ValueError as exc:
            return tail, None, TailMismatch("unreadable", str(exc))
        hash_at = None
        if checkpoint is not None and 0 < checkpoint.seq <= tail.seq:
            found = conn.execute("SELECT hash FROM audit_events WHERE seq = ?", (checkpoint.seq,)).fetchone()
            hash_at = None if found is None else str(found[0])
        mismatch = check_tail(checkpoint, tail, hash_at)
        if mismatch is None and checkpoint is not None and tail.seq > checkpoint.seq:
            logger.warning(
                "audit head checkpoint %s lagged the log (seq %d < %d): a write was interrupted after"
                " its commit; moving it to the tail",
                self.checkpoint_path,
                checkpoint.seq,
                tail.seq,
            )
        return tail, checkpoint, mismatch

    def _write_head(self, head: Checkpoint) -> None:
        try:
            write_checkpoint(self.checkpoint_path, head)
        except OSError as exc:
            # The rows are committed; failing the append now would invite a retry
            # that duplicates them. The next append finds the checkpoint behind the
            # tail (still continued by it) and moves it on.
            logger.warning(
                "audit head checkpoint %s not updated to seq %d: %s", self.checkpoint_path, head.seq, exc
            )

    def recover(self, *, actor: str, reason: str) -> AuditEvent:
        """Record why a log that no longer continues its checkpoint may be extended again.

        Appends an ``incident`` event (what the checkpoint and the tail said, who,
        why) and moves the checkpoint to it. Refused when there is nothing to recover.
        """
        if not reason.strip():
            raise ActionRefused("recover needs --reason: say what happened and who investigated it")
        with self._lock, self._file_lock():
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                tail, checkpoint, mismatch = self._tail_check(conn)
                if mismatch is None:
                    raise ActionRefused(
                        f"the audit log {self.path} continues its head checkpoint: nothing to recover"
                    )
                event = incident_event(mismatch, checkpoint, tail, actor, reason)
                [stored], rows = chain_batch([event], tail.seq, tail.hash)
                conn.executemany(_INSERT_ROW, rows)
                conn.execute(_INSERT_FACT, fact_of(stored).row())
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback(conn)
                raise StoreError(self._append_error(1, exc)) from exc
            except BaseException:
                self._rollback(conn)
                raise
            assert stored.seq is not None
            write_checkpoint(self.checkpoint_path, Checkpoint(stored.seq, stored.hash))
        logger.warning(
            "audit log %s recovered after %s: incident recorded at seq %d",
            self.path,
            mismatch.kind,
            stored.seq,
        )
        return stored

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Exclusive ``<db>.lock`` across processes, waiting up to the busy timeout."""
        if self._lock_fd is None:
            try:
                self._lock_fd = os.open(self.lock_path, os.O_CREAT | os.O_RDWR, PRIVATE)
            except OSError as exc:
                message = f"cannot create the audit lock file {self.lock_path}: {exc.strerror}"
                raise StoreError(message) from exc
        deadline = time.monotonic() + self._busy_timeout_s
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    message = (
                        f"the audit log {self.path} is locked by another process (waited"
                        f" {self._busy_timeout_s:g} s); nothing was written: retry"
                    )
                    raise StoreError(message) from None
                time.sleep(0.001)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

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
                yield load_event(seq, body, digest)
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
                    facts.append(fact_of(load_event(*row)).row())
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

    def verify(self, checkpoints: Sequence[NamedCheckpoint] = ()) -> VerifyReport:
        try:
            head = NamedCheckpoint("head checkpoint", read_checkpoint(self.checkpoint_path))
        except ValueError as exc:
            return VerifyReport(ok=False, rows_checked=0, reason=str(exc), damage="unreadable")
        with self._lock:
            try:
                cursor = self._connection().execute("SELECT seq, body, hash FROM audit_events ORDER BY seq")
                try:
                    rows = (StoredRow(seq, body, digest) for seq, body, digest in cursor)
                    return verify_chain(rows, [head, *checkpoints])
                finally:
                    cursor.close()
            except sqlite3.DatabaseError as exc:  # corrupted pages: a failed check, not a crash
                reason = f"database unreadable: {exc}"
                return VerifyReport(ok=False, rows_checked=0, reason=reason, damage="unreadable")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    # -- helpers -----------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"audit store {self.path} is closed; open it again with open_audit_store()")
        return self._conn

    def _open_error(self, exc: OSError | sqlite3.Error) -> str:
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
