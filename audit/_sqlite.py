"""The embedded audit store: one SQLite file (WAL, synchronous=FULL).

Rows are never updated or deleted: triggers refuse both. Each row is its seq,
the hashed canonical JSON text (``body``) and the hash, plus virtual columns
generated from the body (computed when read, never stored or indexed). Lookups
use the plain columns of ``audit_facts``, written in the same transaction
(``verify --facts`` holds them to the bodies); a batch is written as multi-row
statements, and concurrent appends in one process commit together.
The head checkpoint lives next to the database in ``<db>.head``; appends from
every process take ``<db>.lock`` so that the checkpoint always names the tail.
The database, its WAL/SHM files, the checkpoint and the lock are mode 0600.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from copilot.errors import StoreError

from ._chain import GENESIS_HASH
from ._checkpoint import NamedCheckpoint, read_checkpoint
from ._facts import DIM_COLUMNS, FACT_COLUMNS, dims_key
from ._migrations import apply_migrations
from ._parallel import MIN_RANGE_ROWS, PARALLEL_MIN_ROWS, ranges_link
from ._sql import PRIVATE, SqlAuditStore, _actions_of
from ._store import VerifyReport
from ._verify import StoredRow, verify_tail

__all__ = ["SQLiteAuditStore"]

logger = logging.getLogger("copilot.audit")

_MIN_SQLITE = (3, 33, 0)  # generated columns (3.31), UPDATE … FROM (3.33)
_INSERT_FACT = (
    f"INSERT INTO audit_facts ({', '.join(FACT_COLUMNS)}, dims)"
    f" VALUES ({', '.join('?' * (len(FACT_COLUMNS) + 1))})"
)
_INSERT_DIMS = (
    f"INSERT OR IGNORE INTO audit_dims (key, {', '.join(DIM_COLUMNS)})"
    f" VALUES ({', '.join('?' * (len(DIM_COLUMNS) + 1))})"
)
_ACTIONS_PER_UPDATE = 300
_TYPE = FACT_COLUMNS.index("type")
_DIMS = tuple(FACT_COLUMNS.index(c) for c in DIM_COLUMNS)


def _create_private(path: Path) -> None:
    """Create ``path`` as an empty file readable by its owner only (unless it exists)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE))


class SQLiteAuditStore(SqlAuditStore):
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
        self.label = str(self.path)
        self.checkpoint_path = self.path.with_name(self.path.name + ".head")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.read_only = read_only
        self._busy_timeout_s = busy_timeout_s
        self._db_error = sqlite3.Error
        self._insert_fact = _INSERT_FACT
        self._dims_known: set[int] = set()
        """``audit_dims`` keys written by this store (dims rows are never deleted)."""
        self._init_common()
        if sqlite3.sqlite_version_info < _MIN_SQLITE:
            message = (
                f"the audit log needs SQLite {'.'.join(map(str, _MIN_SQLITE))} or newer; this Python has"
                f" {sqlite3.sqlite_version}. Use a newer Python build."
            )
            raise StoreError(message)
        self._conn = self._open_read_only() if read_only else self._open()
        self._note_schema(self._conn)

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

    def verify(
        self,
        checkpoints: Sequence[NamedCheckpoint] = (),
        *,
        workers: int | None = None,
        min_rows: int = PARALLEL_MIN_ROWS,
        range_rows: int = MIN_RANGE_ROWS,
    ) -> VerifyReport:
        """As the base, but a log of ``min_rows`` or more is checked in seq ranges of at
        least ``range_rows`` rows, by ``workers`` processes (default one per core; 1: this
        process alone, still with the ranges' faster reads); any failure is re-walked in
        order to name it."""
        workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
        try:
            report = self._verify_parallel(checkpoints, workers, min_rows, range_rows)
        except (sqlite3.Error, OSError, ValueError) as exc:
            logger.info("verify of %s in ranges not possible (%s); walking in order", self.path, exc)
            report = None
        if report is not None:
            return report
        return super().verify(checkpoints)

    def _verify_parallel(
        self, checkpoints: Sequence[NamedCheckpoint], workers: int, min_rows: int, range_rows: int
    ) -> VerifyReport | None:
        """The report when rows ``first..max(seq)`` all link; None to walk in order instead
        (too few rows, or something is wrong: the walk names it)."""
        head = NamedCheckpoint("head checkpoint", read_checkpoint(self.checkpoint_path))
        with self._lock:
            conn = self._connection()
            anchor = self._purge_anchor(conn)
            low, high = conn.execute(  # each a single b-tree descent; count(*) would scan
                "SELECT (SELECT min(seq) FROM audit_events), (SELECT max(seq) FROM audit_events)"
            ).fetchone()
        first = anchor.seq + 1 if anchor is not None else 1
        if low != first or high - low + 1 < max(min_rows, workers):
            return None
        start_hash = anchor.hash if anchor is not None else GENESIS_HASH
        if not ranges_link(str(self.path.resolve()), low, high, start_hash, workers, range_rows=range_rows):
            return None  # ranges_link counted every range's rows: all of low..high are there
        wanted = [c.checkpoint.seq for c in (head, *checkpoints) if c.checkpoint is not None]
        hashes_at: dict[int, str] = {}
        with self._lock:
            conn = self._connection()
            for seq in wanted:
                row = conn.execute("SELECT hash FROM audit_events WHERE seq = ?", (seq,)).fetchone()
                if row is not None:
                    hashes_at[seq] = str(row[0])
            seq, body, digest = conn.execute(
                "SELECT seq, body, hash FROM audit_events WHERE seq = ?", (high,)
            ).fetchone()
        count = high - low + 1
        return verify_tail(count, StoredRow(seq, body, digest), [head, *checkpoints], hashes_at)

    # -- reports ---------------------------------------------------------------

    _type_scan = "+type"
    _distinct = "IS NOT"
    _multi_row_insert = True

    def _write_facts(self, conn: Any, facts: Sequence[Sequence[Any]]) -> None:
        """As the base, plus each shown set's ``dims`` key (and ``audit_dims`` entry)."""
        rows: list[tuple[Any, ...]] = []
        dims: dict[int, tuple[Any, ...]] = {}
        for fact in facts:
            key = None
            if fact[_TYPE] == "suggestion_shown":
                values = tuple(fact[i] for i in _DIMS)
                key = dims_key(values)
                dims[key] = values
            rows.append((*fact, key))
        self._executemany(conn, _INSERT_FACT, rows)
        new = [(key, *values) for key, values in dims.items() if key not in self._dims_known]
        if new:
            self._executemany(conn, _INSERT_DIMS, new)
            self._dims_known.update(key for key, *_ in new)
        self._mark_actions(conn, facts)

    def _mark_actions(self, conn: Any, facts: Sequence[Sequence[Any]]) -> None:
        """As the base, in one UPDATE … FROM (VALUES …) per ``_ACTIONS_PER_UPDATE`` actions
        (each found through the index on (set_id, type)) rather than one per action."""
        actions = _actions_of(facts)
        for start in range(0, len(actions), _ACTIONS_PER_UPDATE):
            chunk = actions[start : start + _ACTIONS_PER_UPDATE]
            conn.execute(
                "UPDATE audit_facts SET set_action = v.column1, set_idx = v.column2"
                f" FROM (VALUES {', '.join(['(?, ?, ?)'] * len(chunk))}) AS v"
                " WHERE audit_facts.set_id = v.column3 AND audit_facts.type = 'suggestion_shown'",
                [value for action in chunk for value in action],
            )

    def _forget_uncommitted(self) -> None:
        self._dims_known.clear()  # a key written in the transaction just undone is gone again

    def _set_groups(self, conn: Any, shown: str, params: list[Any]) -> list[tuple[Any, ...]]:
        """Grouped by the one integer ``dims`` (SQLite sorts to group: short keys sort fast)."""
        query = (
            f"SELECT dims, set_action, set_idx, count(*) FROM audit_facts WHERE {shown}"
            " GROUP BY dims, set_action, set_idx"
        )
        groups = conn.execute(query, params).fetchall()
        keys = sorted({key for key, *_ in groups if key is not None})
        values: dict[int, tuple[Any, ...]] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            found = conn.execute(
                f"SELECT key, {', '.join(DIM_COLUMNS)} FROM audit_dims WHERE key IN ({marks})", chunk
            )
            values.update((key, tuple(rest)) for key, *rest in found)
        if len(values) < len(keys) or any(key is None for key, *_ in groups):
            raise sqlite3.DatabaseError("audit_dims does not name every group")  # report in Python
        return [(*values[key], action, idx, n) for key, action, idx, n in groups]

    # -- dialect hooks -------------------------------------------------------

    def _begin_write(self, conn: Any) -> None:
        conn.execute("BEGIN IMMEDIATE")

    def _action_conflict(self, exc: Exception) -> bool | None:
        if not isinstance(exc, sqlite3.IntegrityError):
            return None
        return "audit_facts.set_id" in str(exc)  # the partial unique index of m006

    def _delete_prefix(self, conn: Any, through: int) -> None:
        triggers = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'"
            " AND name = 'audit_events_no_delete'"
        ).fetchall()
        for name, _ in triggers:
            conn.execute(f"DROP TRIGGER {name}")
        conn.execute("DELETE FROM audit_events WHERE seq <= ?", (through,))
        conn.execute("DELETE FROM audit_facts WHERE seq <= ?", (through,))
        for _, sql in triggers:
            conn.execute(sql)

    def _in_transaction(self, conn: Any) -> bool:
        return bool(conn.in_transaction)

    @contextlib.contextmanager
    def _stream_rows(self, conn: Any, *, raw: bool = False) -> Iterator[Iterator[tuple[int, Any, str]]]:
        body = "CAST(body AS BLOB)" if raw else "body"
        cursor = conn.execute(f"SELECT seq, {body}, hash FROM audit_events ORDER BY seq")
        try:
            yield cursor
        finally:
            cursor.close()

    def _append_error(self, count: int, exc: Exception) -> str:
        return (
            f"could not append {count} audit event(s) to {self.path}: {exc}. Nothing was written."
            f" If the disk is full, free disk space under COPILOT_HOME ({self.path.parent}) and retry;"
            " if the database is locked, another process held it too long: retry."
        )

    def _open_error(self, exc: OSError | sqlite3.Error) -> str:
        return (
            f"cannot open the audit log {self.path}: {exc}. Check that the folder exists and is writable"
            " (set COPILOT_HOME to change it) and that the file is a Sales Copilot audit database."
        )
