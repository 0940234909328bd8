"""What the SQLite and PostgreSQL stores share: group commit, the tail check, reads, verify.

A backend supplies its connection and a few dialect hooks (how to start a write
transaction, placeholders, which errors mean what, how to stream rows); SQL is
written with ``?`` placeholders and translated by ``_q``.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from copilot.errors import ActionRefused, AuditIntegrityError, StoreError

from ._chain import GENESIS_HASH
from ._checkpoint import (
    Checkpoint,
    NamedCheckpoint,
    TailMismatch,
    check_tail,
    read_checkpoint,
    update_checkpoint,
    write_checkpoint,
)
from ._events import AuditEvent, iso_utc
from ._facts import FACT_COLUMNS, LOOKUP_SPAN, fact_of
from ._group import GroupCommit, Pending
from ._report import Summary
from ._rows import (
    anchor_of,
    chain_batch,
    incident_event,
    link_rows,
    load_event,
    prepare,
    purge_event,
    refuse_repeated_ids,
    refused_error,
    second_action_error,
    stamped,
)
from ._store import AuditStore, VerifyReport
from ._summary import FactStream, summary_in_database
from ._verify import StoredRow, links_through, verify_chain

__all__ = ["PRIVATE", "SqlAuditStore"]

logger = logging.getLogger("copilot.audit")

PRIVATE = 0o600
_PAGE = 1000
_INSERT_ROW = "INSERT INTO audit_events (seq, body, hash) VALUES (?, ?, ?)"
_MARK_ACTION = (
    "UPDATE audit_facts SET set_action = ?, set_idx = ? WHERE set_id = ? AND type = 'suggestion_shown'"
)
_TYPE, _SET, _ACTION, _IDX = (FACT_COLUMNS.index(c) for c in ("type", "set_id", "action", "idx"))
_LOOKUPS = "m006_lookups_on_facts"


def _actions_of(facts: Sequence[Sequence[Any]]) -> list[tuple[Any, Any, Any]]:
    """(action, suggestion index, set id) of each ``rep_action`` among ``facts``."""
    return [(f[_ACTION], f[_IDX], f[_SET]) for f in facts if f[_TYPE] == "rep_action"]


_ROWS_PER_INSERT = 200
"""Rows per multi-row INSERT (5,000 parameters: far below SQLite's 32,766 and PostgreSQL's 65,535)."""
_LOOKUP_COLUMNS = (
    ("type", "type"),
    ("at", "at"),
    ("actor", "actor"),
    ("set_id", "suggestion_set_id"),
    ("event_id", "event_id"),
    ("conversation_id", "conversation_id"),
)
"""Each facts column that lookups use, and the top-level field of the hashed row it must equal."""
_BEFORE_LOOKUPS = FACT_COLUMNS.index("event_id")


class SqlAuditStore(AuditStore):
    """Base of the SQL backends. Subclasses set the attributes below and the hooks."""

    label: str
    """The log's name in messages: a path, or a URL without its password."""
    checkpoint_path: Path
    lock_path: Path
    read_only: bool
    _busy_timeout_s: float
    _db_error: type[Exception]
    _insert_fact: str
    _type_scan = "type"
    """How report scans name ``type`` (SQLite: ``+type``, so that no partial index is used for a scan)."""
    _multi_row_insert = False
    """PostgreSQL: psycopg pipelines ``executemany``, and would parse a long statement's
    thousands of placeholders again on every call (it caches only short ones)."""
    _distinct = "IS DISTINCT FROM"
    """The NULL-safe inequality (SQLite: ``IS NOT``)."""

    def _init_common(self) -> None:
        self._lock = threading.Lock()
        self._group = GroupCommit(self._write_group)
        self._lock_fd: int | None = None
        self._head_fd: int | None = None
        self._conn: Any = None
        self._facts_lookups = True
        self._head_seen: tuple[tuple[Any, ...], Checkpoint | None] | None = None
        """The head checkpoint's stamp and value when this store last read or wrote it."""

    def _lookup_source(self) -> tuple[str, str]:
        """A FROM clause with the lookup columns as ``f`` and the hashed rows as ``e``, and
        the name of ``f``'s suggestion-set column."""
        if self._facts_lookups:
            return "audit_facts f JOIN audit_events e ON e.seq = f.seq", "set_id"
        return "audit_events f JOIN audit_events e ON e.seq = f.seq", "suggestion_set_id"

    def _note_schema(self, conn: Any) -> None:
        """Whether lookups run on the facts' plain columns (``m006``), or, for an older log
        opened read-only (so never migrated), on the generated columns of its rows."""
        found = conn.execute(self._q("SELECT 1 FROM _migrations WHERE name = ?"), (_LOOKUPS,)).fetchone()
        self._facts_lookups = found is not None

    # -- dialect hooks -------------------------------------------------------

    def _q(self, sql: str) -> str:
        return sql

    @abstractmethod
    def _begin_write(self, conn: Any) -> None: ...

    @abstractmethod
    def _action_conflict(self, exc: Exception) -> bool | None:
        """True: a second rep_action on a set; False: another unique violation; None: not one."""
        ...

    def _executemany(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """An INSERT of several rows as one multi-row VALUES statement per ``_ROWS_PER_INSERT``
        where ``_multi_row_insert`` (SQLite: one statement instead of one per row is 10 % less
        CPU, and the GIL is released and taken back once rather than once per row); anything
        else row by row."""
        head, values = sql.split(" VALUES ", 1) if sql.startswith("INSERT") else (sql, "")
        if not values or len(rows) < 2 or not self._multi_row_insert:
            self._execute_rows(conn, self._q(sql), rows)
            return
        end = values.index(")") + 1  # "(?, ?, …)", then any ON CONFLICT clause
        row_marks, tail = values[:end], values[end:]
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[start : start + _ROWS_PER_INSERT]
            params = [value for row in chunk for value in row]
            conn.execute(self._q(f"{head} VALUES {', '.join([row_marks] * len(chunk))}{tail}"), params)

    def _execute_rows(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        conn.executemany(sql, rows)

    def _row_field(self, name: str) -> str:
        """SQL for the top-level field ``name`` of the hashed row ``e`` (``check_facts``)."""
        return f"e.{name}"  # SQLite: the generated (virtual) column

    @abstractmethod
    def _in_transaction(self, conn: Any) -> bool: ...

    @abstractmethod
    def _stream_rows(
        self, conn: Any, *, raw: bool = False
    ) -> contextlib.AbstractContextManager[Iterator[tuple[int, Any, str]]]:
        """Every row (seq, body, hash) in seq order; ``raw``: the body as UTF-8 bytes."""
        ...

    def _close_connection(self, conn: Any) -> None:
        conn.close()

    # -- writing -------------------------------------------------------------

    def append(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        batch = list(events)
        if not batch:
            return []
        if self.read_only:
            raise StoreError(f"audit store {self.label} was opened read-only; open it again to append")
        refuse_repeated_ids(batch)
        return self._group.submit(batch, prepare(batch))

    def _write_group(self, group: list[Pending]) -> None:
        started = time.perf_counter()
        with self._lock, self._file_lock():
            conn = self._connection()
            try:
                self._begin_write(conn)
                tail, _, mismatch = self._tail_check(conn)
                if mismatch is not None:
                    raise refused_error(self.label, mismatch)
                self._drop_stale_facts(conn, tail)
                seq, prev_hash = self._write_together(conn, group, tail.seq, tail.hash)
                conn.execute("COMMIT")
            except self._db_error as exc:
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
        for pending in group:  # the events as stored, built outside the lock
            if pending.linked is not None:
                pending.result = stamped(pending.prepared, *pending.linked)
        written = [p.result for p in group if p.result]
        if written:
            logger.info(
                "audit append: %d event(s) in %d batch(es), seq %s-%s, head %s, %.1f ms",
                sum(len(r) for r in written),
                len(written),
                written[0][0].seq,
                written[-1][-1].seq,
                written[-1][-1].hash,
                (time.perf_counter() - started) * 1000,
            )

    def _write_together(self, conn: Any, group: list[Pending], seq: int, prev: str) -> tuple[int, str]:
        """Every batch of the group in one set of multi-row statements (a handful per commit,
        not a handful per press); if the database refuses one (a second final action, an
        event id already logged), undo and write batch by batch, so that only it fails."""
        linked: list[tuple[Pending, str, list[tuple[int, str, str]]]] = []
        rows: list[tuple[int, str, str]] = []
        facts: list[list[Any]] = []
        last_seq, last_hash = seq, prev
        for pending in group:
            batch_rows, batch_facts = link_rows(pending.prepared, last_seq, last_hash)
            linked.append((pending, last_hash, batch_rows))
            rows += batch_rows
            facts += batch_facts
            last_seq, last_hash = batch_rows[-1][0], batch_rows[-1][2]
        conn.execute("SAVEPOINT batches")
        try:
            self._executemany(conn, _INSERT_ROW, rows)
            self._write_facts(conn, facts)
        except self._db_error as exc:
            if self._action_conflict(exc) is None:
                raise
            conn.execute("ROLLBACK TO SAVEPOINT batches")
            self._forget_uncommitted()
            conn.execute("RELEASE SAVEPOINT batches")
            for pending in group:
                seq, prev = self._write_batch(conn, pending, seq, prev)
            return seq, prev
        conn.execute("RELEASE SAVEPOINT batches")
        for pending, before, batch_rows in linked:
            pending.linked = (before, batch_rows)
        return last_seq, last_hash

    def _write_batch(self, conn: Any, pending: Pending, seq: int, prev: str) -> tuple[int, str]:
        """One caller's batch in its own savepoint; a refused batch leaves the others alone."""
        rows, facts = link_rows(pending.prepared, seq, prev)
        conn.execute("SAVEPOINT batch")
        try:
            self._executemany(conn, _INSERT_ROW, rows)
            self._write_facts(conn, facts)
        except self._db_error as exc:
            conflict = self._action_conflict(exc)
            if conflict is None:
                raise
            conn.execute("ROLLBACK TO SAVEPOINT batch")
            self._forget_uncommitted()
            conn.execute("RELEASE SAVEPOINT batch")
            if conflict:
                pending.error = ActionRefused(second_action_error(pending.batch))
            else:
                pending.error = StoreError(self._duplicate_error(conn, pending.batch, exc))
            return seq, prev
        conn.execute("RELEASE SAVEPOINT batch")
        pending.linked = (prev, rows)
        return rows[-1][0], rows[-1][2]

    def _drop_stale_facts(self, conn: Any, tail: Checkpoint) -> None:
        """Facts past the last row belong to rows deleted behind the store's back (facts and
        rows are written in one transaction); they would block the seqs, event ids and final
        actions of new rows."""
        conn.execute(self._q("DELETE FROM audit_facts WHERE seq > ?"), (tail.seq,))

    def _tail_check(self, conn: Any) -> tuple[Checkpoint, Checkpoint | None, TailMismatch | None]:
        """The log's tail, its checkpoint, and why the first does not continue the second."""
        last = conn.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
        tail = Checkpoint(int(last[0]), str(last[1])) if last is not None else Checkpoint(0, GENESIS_HASH)
        try:
            checkpoint = self._read_head()
        except ValueError as exc:
            return tail, None, TailMismatch("unreadable", str(exc))
        hash_at = None
        if checkpoint is not None and 0 < checkpoint.seq <= tail.seq:
            query = self._q("SELECT hash FROM audit_events WHERE seq = ?")
            found = conn.execute(query, (checkpoint.seq,)).fetchone()
            hash_at = None if found is None else str(found[0])
        mismatch = check_tail(checkpoint, tail, hash_at)
        if mismatch is None and checkpoint is not None and tail.seq > checkpoint.seq:
            logger.info(
                "audit head checkpoint %s behind the log (seq %d < %d): another writer, or a write"
                " interrupted after its commit; moving it to the tail",
                self.checkpoint_path,
                checkpoint.seq,
                tail.seq,
            )
        return tail, checkpoint, mismatch

    def _head_stamp(self) -> tuple[Any, ...] | None:
        """What changes whenever the head checkpoint or its folder does: the file's inode,
        size, mtime and ctime (which no one can set back) and the folder's (a leftover
        temporary file appearing or going). None when there is no such file."""
        try:
            head, folder = os.stat(self.checkpoint_path), os.stat(self.checkpoint_path.parent)
        except OSError:
            return None
        return (
            head.st_ino,
            head.st_size,
            head.st_mtime_ns,
            head.st_ctime_ns,
            folder.st_mtime_ns,
            folder.st_ctime_ns,
        )

    def _read_head(self) -> Checkpoint | None:
        """``read_checkpoint`` of the head, unless neither it nor its folder changed since this
        store last read or wrote it (under the write lock): then what it held. Reading it
        again, and listing the folder for leftovers, took a third of a one-event append."""
        stamp = self._head_stamp()
        if stamp is not None and self._head_seen is not None and self._head_seen[0] == stamp:
            return self._head_seen[1]
        checkpoint = read_checkpoint(self.checkpoint_path)
        self._head_seen = None if stamp is None else (stamp, checkpoint)
        return checkpoint

    def _write_head(self, head: Checkpoint) -> None:
        fd, self._head_fd = self._head_fd, None
        self._head_seen = None
        try:
            self._head_fd = update_checkpoint(self.checkpoint_path, head, fd)
            stamp = self._head_stamp()
            self._head_seen = None if stamp is None else (stamp, head)
        except OSError as exc:
            # The rows are committed; failing the append now would invite a retry
            # that duplicates them. The next append finds the checkpoint behind the
            # tail (still continued by it) and moves it on.
            logger.warning(
                "audit head checkpoint %s not updated to seq %d: %s", self.checkpoint_path, head.seq, exc
            )

    def recover(self, *, actor: str, reason: str) -> AuditEvent:
        if not reason.strip():
            raise ActionRefused("recover needs --reason: say what happened and who investigated it")
        if self.read_only:
            raise StoreError(f"audit store {self.label} was opened read-only; open it again to recover")
        with self._lock, self._file_lock():
            conn = self._connection()
            try:
                self._begin_write(conn)
                tail, checkpoint, mismatch = self._tail_check(conn)
                if mismatch is None:
                    message = f"the audit log {self.label} continues its head checkpoint: nothing to recover"
                    raise ActionRefused(message)
                self._drop_stale_facts(conn, tail)
                event = incident_event(mismatch, checkpoint, tail, actor, reason)
                [stored], rows, _ = chain_batch([event], tail.seq, tail.hash)
                self._executemany(conn, _INSERT_ROW, rows)
                self._write_facts(conn, [fact_of(stored).row()])
                conn.execute("COMMIT")
            except self._db_error as exc:
                self._rollback(conn)
                raise StoreError(self._append_error(1, exc)) from exc
            except BaseException:
                self._rollback(conn)
                raise
            assert stored.seq is not None
            self._head_seen = None
            write_checkpoint(self.checkpoint_path, Checkpoint(stored.seq, stored.hash))
        logger.warning(
            "audit log %s recovered (%s): incident at seq %d", self.label, mismatch.kind, stored.seq
        )
        return stored

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Exclusive lock file across this machine's processes (held for one transaction)."""
        if self._lock_fd is None:
            try:
                self._lock_fd = os.open(self.lock_path, os.O_CREAT | os.O_RDWR, PRIVATE)
            except OSError as exc:
                message = f"cannot create the audit lock file {self.lock_path}: {exc.strerror}"
                raise StoreError(message) from exc
        # Blocking, not polling: the kernel queues waiters, so no writer starves under load
        # (polling let one process wait over 5 s with four busy writers). Only our own
        # appends hold this lock, each for one transaction; a dead holder's lock is freed.
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _rollback(self, conn: Any) -> None:
        self._forget_uncommitted()
        if not self._in_transaction(conn):
            return
        try:
            conn.execute("ROLLBACK")
        except self._db_error as exc:
            logger.warning("audit rollback on %s failed: %s", self.label, exc)

    def purge(self, *, before: datetime, actor: str) -> AuditEvent:
        """Delete the oldest rows, those before ``before``, and log it as a ``purge`` event.

        Only a prefix of the chain goes (rows up to the first one at or after
        ``before``). The ``purge`` event records the last purged seq and its hash,
        which becomes the anchor the remaining chain is verified from.
        """
        if self.read_only:
            raise StoreError(f"audit store {self.label} was opened read-only; open it again to purge")
        with self._lock, self._file_lock():
            conn = self._connection()
            try:
                self._begin_write(conn)
                tail, _, mismatch = self._tail_check(conn)
                if mismatch is not None:
                    raise refused_error(self.label, mismatch)
                query = self._q("SELECT min(seq) FROM audit_facts WHERE at >= ?")
                (keep_from,) = conn.execute(query, (iso_utc(before),)).fetchone()
                through = (int(keep_from) if keep_from is not None else tail.seq + 1) - 1
                (first,) = conn.execute("SELECT coalesce(min(seq), 1) FROM audit_events").fetchone()
                found = conn.execute(
                    self._q("SELECT hash FROM audit_events WHERE seq = ?"), (through,)
                ).fetchone()
                if through < first or found is None:
                    raise ActionRefused(f"no audit events before {iso_utc(before)} to purge")
                self._delete_prefix(conn, through)
                event = purge_event(before, actor, first, through, str(found[0]))
                [stored], rows, _ = chain_batch([event], tail.seq, tail.hash)
                self._executemany(conn, _INSERT_ROW, rows)
                self._write_facts(conn, [fact_of(stored).row()])
                conn.execute("COMMIT")
            except self._db_error as exc:
                self._rollback(conn)
                raise StoreError(self._append_error(1, exc)) from exc
            except BaseException:
                self._rollback(conn)
                raise
            assert stored.seq is not None
            self._write_head(Checkpoint(stored.seq, stored.hash))
        logger.warning(
            "audit log %s purged seq %d-%d (before %s)", self.label, first, through, iso_utc(before)
        )
        return stored

    @abstractmethod
    def _delete_prefix(self, conn: Any, through: int) -> None:
        """Delete rows ``seq <= through`` despite the append-only guard (inside the transaction)."""
        ...

    def unanswered(self, *, shown_before: datetime) -> list[tuple[str, str]]:
        """(set id, rep) of sets shown before ``shown_before`` that have no final action."""
        query = self._q(
            "SELECT f.set_id, f.actor FROM audit_facts f WHERE f.type = 'suggestion_shown' AND f.at < ?"
            " AND NOT EXISTS (SELECT 1 FROM audit_facts a"
            " WHERE a.set_id = f.set_id AND a.type = 'rep_action') ORDER BY f.seq"
        )
        with self._lock:
            rows = self._connection().execute(query, (iso_utc(shown_before),)).fetchall()
        return [(str(set_id), str(actor)) for set_id, actor in rows]

    def _purge_anchor(self, conn: Any) -> Checkpoint | None:
        """(seq, hash) of the last purged row, from the newest ``purge`` event, if any."""
        source, _ = self._lookup_source()
        query = f"SELECT e.body FROM {source} WHERE f.type = 'purge' ORDER BY f.seq DESC LIMIT 1"
        found = conn.execute(query).fetchone()
        return None if found is None else anchor_of(str(found[0]))

    # -- reading -------------------------------------------------------------

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
        where, params = ["f.seq > ?"], []
        source, set_column = self._lookup_source()
        # By rep or conversation: probe one span of seqs at a time (the index's order, see LOOKUP_SPAN)
        by_rep_or_conversation = conversation_id is not None or actor is not None
        clustered = self._facts_lookups and suggestion_set_id is None and by_rep_or_conversation
        if clustered:
            where.insert(0, f"f.seq / {LOOKUP_SPAN} = ?")
        for column, value in (
            ("type", type),
            ("conversation_id", conversation_id),
            (set_column, suggestion_set_id),
            ("actor", actor),
        ):
            if value is not None:
                where.append(f"f.{column} = ?")
                params.append(value)
        if since is not None:
            where.append("f.at >= ?")
            params.append(iso_utc(since))
        if until is not None:
            where.append("f.at < ?")
            params.append(iso_utc(until))
        query = self._q(  # looked up on the facts' plain columns, read from the hashed rows
            f"SELECT e.seq, e.body, e.hash FROM {source} WHERE {' AND '.join(where)} ORDER BY f.seq LIMIT ?"
        )
        after, remaining = since_seq, limit
        span, last_span = (after + 1) // LOOKUP_SPAN, self._last_span() if clustered else 0
        while remaining is None or remaining > 0:
            page = _PAGE if remaining is None else min(_PAGE, remaining)
            args = (span, after, *params, page) if clustered else (after, *params, page)
            with self._lock:
                rows = self._connection().execute(query, args).fetchall()
            for seq, body, digest in rows:
                yield load_event(seq, body, digest)
            if len(rows) == page:
                after = rows[-1][0]
                remaining = None if remaining is None else remaining - len(rows)
                continue
            if not clustered:
                return
            if span >= last_span:
                last_span = self._last_span()  # rows appended meanwhile
                if span >= last_span:
                    return
            remaining = None if remaining is None else remaining - len(rows)
            span += 1

    def _last_span(self) -> int:
        """The span (``seq // LOOKUP_SPAN``) of the newest row."""
        with self._lock:
            (head,) = self._connection().execute("SELECT coalesce(max(seq), 0) FROM audit_facts").fetchone()
        return int(head) // LOOKUP_SPAN

    def facts(self, *, since: datetime | None = None) -> FactStream:
        return FactStream(self, iso_utc(since) if since else "")

    def _summary(self, start: str, end: str, reps: set[str] | None) -> Summary:
        """``Summary`` of the sets shown in [start, end) to ``reps``, collapsed by the database."""
        with self._lock:
            return summary_in_database(self._connection(), self, start, end, reps)

    def _fact_rows(self, since: str) -> list[tuple[Any, ...]]:
        columns = list(FACT_COLUMNS)
        if not self._facts_lookups:  # an older log opened read-only
            columns[_BEFORE_LOOKUPS:] = ["''"] * (len(columns) - _BEFORE_LOOKUPS)
        query = self._q(f"SELECT {', '.join(columns)} FROM audit_facts WHERE at >= ? ORDER BY seq")
        with self._lock:
            return list(self._connection().execute(query, (since,)).fetchall())

    def _set_groups(self, conn: Any, shown: str, params: list[Any]) -> list[tuple[Any, ...]]:
        """``Summary.sets`` of the facts rows matching ``shown`` (a hash aggregate in PostgreSQL)."""
        keys = "actor, engine, prompts, competitor, missing_roles, citations, fallback, set_action, set_idx"
        query = f"SELECT {keys}, count(*) FROM audit_facts WHERE {shown} GROUP BY {keys}"
        return [tuple(r) for r in conn.execute(self._q(query), params).fetchall()]

    def _backfill_facts(self, conn: Any) -> None:
        """Facts for rows written before the facts table existed (or by an older version)."""
        (done,) = conn.execute("SELECT coalesce(max(seq), 0) FROM audit_facts").fetchone()
        (head,) = conn.execute("SELECT coalesce(max(seq), 0) FROM audit_events").fetchone()
        if done >= head:
            return
        self._begin_write(conn)
        try:
            query = self._q("SELECT seq, body, hash FROM audit_events WHERE seq > ? ORDER BY seq")
            facts = []
            for row in conn.execute(query, (done,)).fetchall():
                try:
                    facts.append(fact_of(load_event(*row)).row())
                except AuditIntegrityError as exc:  # verify() names it; reports stop before it
                    logger.warning("audit facts not rebuilt past seq %d: %s", row[0] - 1, exc)
                    break
            self._write_facts(conn, facts)
            conn.execute("COMMIT")
        except BaseException:
            self._rollback(conn)
            raise

    def _write_facts(self, conn: Any, facts: Sequence[Sequence[Any]]) -> None:
        """Insert the facts rows (``FACT_COLUMNS`` order), then ``_mark_actions``."""
        self._executemany(conn, self._insert_fact, facts)
        self._mark_actions(conn, facts)

    def _forget_uncommitted(self) -> None:
        """Drop what this store remembers of writes a rollback undid (SQLite: dims keys)."""

    def _mark_actions(self, conn: Any, facts: Sequence[Sequence[Any]]) -> None:
        """Copy each final action onto the facts row of the set it ends (what reports group by)."""
        actions = _actions_of(facts)
        if actions:
            self._executemany(conn, _MARK_ACTION, actions)

    def check_facts(self) -> VerifyReport:
        """Whether every row's facts, which lookups and the one-final-action rule use, say
        what its hashed body says (``verify`` proves the bodies, not the facts derived from
        them). Names the first row whose facts are missing, edited, or have no row."""
        if not self._facts_lookups:  # an older log opened read-only: lookups read the rows themselves
            return VerifyReport(ok=True, rows_checked=self.count())
        differs = " OR ".join(
            f"f.{fact} {self._distinct} {self._row_field(row)}" for fact, row in _LOOKUP_COLUMNS
        )
        with self._lock:
            conn = self._connection()
            (rows,) = conn.execute("SELECT count(*) FROM audit_events").fetchone()
            (bad,) = conn.execute(
                "SELECT min(e.seq) FROM audit_events e LEFT JOIN audit_facts f ON f.seq = e.seq"
                f" WHERE f.seq IS NULL OR {differs}"
            ).fetchone()
            (orphan,) = conn.execute(
                "SELECT min(f.seq) FROM audit_facts f"
                " WHERE NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.seq = f.seq)"
            ).fetchone()
        if bad is None and orphan is None:
            return VerifyReport(ok=True, rows_checked=int(rows))
        first = min(s for s in (bad, orphan) if s is not None)
        what = "has no facts row, or its facts were edited" if first == bad else "has facts but no row"
        reason = (
            f"facts mismatch: seq {first} {what} (lookups by type, time, rep, set, conversation"
            " and event id, and the one-final-action rule, use the facts)"
        )
        return VerifyReport(
            ok=False, rows_checked=int(rows), first_bad_seq=int(first), reason=reason, damage="edited"
        )

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
                anchor = self._purge_anchor(self._connection())
                with self._stream_rows(self._connection(), raw=True) as raw:
                    report = links_through(raw, [head, *checkpoints], start=anchor)
                if report is not None:
                    return report
                with self._stream_rows(self._connection()) as rows:  # walk again to name the damage
                    stored = (StoredRow(seq, body, digest) for seq, body, digest in rows)
                    return verify_chain(stored, [head, *checkpoints], start=anchor)
            except self._db_error as exc:  # corrupted pages: a failed check, not a crash
                reason = f"database unreadable: {exc}"
                return VerifyReport(ok=False, rows_checked=0, reason=reason, damage="unreadable")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._close_connection(self._conn)
                self._conn = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None
            if self._head_fd is not None:
                os.close(self._head_fd)
                self._head_fd = None

    # -- helpers -------------------------------------------------------------

    def _connection(self) -> Any:
        if self._conn is None:
            raise StoreError(f"audit store {self.label} is closed; open it again with open_audit_store()")
        return self._conn

    def _append_error(self, count: int, exc: Exception) -> str:
        return (
            f"could not append {count} audit event(s) to {self.label}: {exc}. Nothing was written."
            " If the disk is full, free disk space and retry; if the database is locked or down,"
            " retry once it is back."
        )

    def _duplicate_error(self, conn: Any, batch: list[AuditEvent], exc: Exception) -> str:
        ids = [e.event_id for e in batch]
        marks = ", ".join("?" * len(ids))
        query = self._q(f"SELECT event_id FROM audit_facts WHERE event_id IN ({marks})")
        which = ", ".join(i for (i,) in conn.execute(query, ids).fetchall()) or "?"
        return (
            f"audit event(s) {which} already in {self.label} ({exc}); append each event once."
            " Nothing was written."
        )
