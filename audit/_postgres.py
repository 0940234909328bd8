"""The audit store at scale: PostgreSQL (``COPILOT_DATABASE_URL=postgresql://…``).

Same rows, hashes, migrations and behaviour as the SQLite store (one conformance
suite runs against both). Writers on any machine serialise on a transaction-level
advisory lock; each machine keeps its own head checkpoint file under
COPILOT_HOME (mode 0600), which its appends must continue, and exported
checkpoints (``copilot audit checkpoint``) guard the log beyond the machine.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus

from copilot.errors import StoreError

from ._checkpoint import NamedCheckpoint, read_checkpoint
from ._facts import FACT_COLUMNS
from ._pg_migrations import apply_pg_migrations
from ._sql import SqlAuditStore
from ._store import VerifyReport
from ._verify import links_through

__all__ = ["PostgresAuditStore", "head_paths"]

APPEND_LOCK = 0x5C0A_0D17_0002
_RAW_ROWS = "SELECT seq, convert_to(body, 'UTF8'), hash FROM audit_events ORDER BY seq"
_INSERT_FACT = (
    f"INSERT INTO audit_facts ({', '.join(FACT_COLUMNS)}) VALUES ({', '.join('?' * len(FACT_COLUMNS))})"
    f" ON CONFLICT (seq) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in FACT_COLUMNS[1:])}"
)


def redact_url(url: str) -> str:
    """``url`` without its password (for messages and logs)."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def head_paths(url: str, home: str | Path) -> tuple[Path, Path]:
    """This machine's head checkpoint and lock files for the log at ``url``."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", redact_url(url).split("://", 1)[-1].split("@")[-1])
    return Path(home) / f"audit-pg-{name}.head", Path(home) / f"audit-pg-{name}.lock"


class PostgresAuditStore(SqlAuditStore):
    """Audit log in the PostgreSQL database at ``url``; created and migrated on open.

    ``home`` holds this machine's head checkpoint and lock files.
    """

    def __init__(
        self, url: str, home: str | Path, *, busy_timeout_s: float = 5.0, read_only: bool = False
    ) -> None:
        self.url = url
        self.label = redact_url(url)
        self.checkpoint_path, self.lock_path = head_paths(url, home)
        self.read_only = read_only
        self._busy_timeout_s = busy_timeout_s
        self._db_error = psycopg.Error
        self._insert_fact = _INSERT_FACT
        self._init_common()
        self._conn = self._open()
        self._note_schema(self._conn)

    def _open(self) -> psycopg.Connection[Any]:
        timeout_ms = int(self._busy_timeout_s * 1000)
        try:
            conn = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=max(1, int(self._busy_timeout_s)),
                options=f"-c lock_timeout={timeout_ms} -c statement_timeout={timeout_ms * 12}",
            )
        except psycopg.Error as exc:
            raise StoreError(self._open_error(exc)) from None
        try:
            if self.read_only:
                conn.execute("SET default_transaction_read_only = on")
                conn.execute("SELECT count(*) FROM audit_events WHERE seq = 0").fetchone()
            else:
                apply_pg_migrations(conn)
                self._backfill_facts(conn)
        except psycopg.Error as exc:
            conn.close()
            raise StoreError(self._open_error(exc)) from None
        except BaseException:
            conn.close()
            raise
        return conn

    def __repr__(self) -> str:
        return f"PostgresAuditStore({self.label!r})"

    def verify(self, checkpoints: Sequence[NamedCheckpoint] = ()) -> VerifyReport:
        """As the base, but the rows come in PostgreSQL's binary format: the body as its
        UTF-8 bytes, not as hex text for this process to decode (which took most of the
        time). Anything that does not link is walked again by the base, which names it."""
        try:
            head = NamedCheckpoint("head checkpoint", read_checkpoint(self.checkpoint_path))
        except ValueError:
            return super().verify(checkpoints)
        report = None
        with self._lock:
            conn = self._connection()
            try:
                anchor = self._purge_anchor(conn)
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                with conn.cursor(name="audit_verify_binary", binary=True) as cursor:
                    cursor.itersize = 5000
                    cursor.execute(_RAW_ROWS)
                    report = links_through(cursor, [head, *checkpoints], start=anchor)
            except psycopg.Error:
                report = None  # the base's walk reports it
            finally:
                self._rollback(conn)
        return report if report is not None else super().verify(checkpoints)

    # -- dialect hooks -------------------------------------------------------

    def _q(self, sql: str) -> str:
        return sql.replace("?", "%s")

    def _begin_write(self, conn: Any) -> None:
        conn.execute("BEGIN")
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))

    def _action_conflict(self, exc: Exception) -> bool | None:
        if not isinstance(exc, pg_errors.UniqueViolation):
            return None
        return exc.diag.constraint_name == "audit_facts_one_action"

    def _execute_rows(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with conn.cursor() as cursor:
            cursor.executemany(sql, rows)

    def _row_field(self, name: str) -> str:
        return f"(e.body::jsonb ->> '{name}')"  # m006 dropped the stored generated columns

    def _delete_prefix(self, conn: Any, through: int) -> None:
        conn.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change")
        conn.execute("DELETE FROM audit_events WHERE seq <= %s", (through,))
        conn.execute("DELETE FROM audit_facts WHERE seq <= %s", (through,))
        conn.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change")

    def _in_transaction(self, conn: Any) -> bool:
        return bool(conn.info.transaction_status != TransactionStatus.IDLE)

    @contextlib.contextmanager
    def _stream_rows(self, conn: Any, *, raw: bool = False) -> Iterator[Iterator[tuple[int, Any, str]]]:
        body = "convert_to(body, 'UTF8')" if raw else "body"
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            with conn.cursor(name="audit_verify") as cursor:
                cursor.itersize = 5000
                cursor.execute(f"SELECT seq, {body}, hash FROM audit_events ORDER BY seq")
                yield iter(cursor)
        finally:
            self._rollback(conn)

    def _open_error(self, exc: psycopg.Error) -> str:
        return (
            f"cannot open the audit log {self.label}: {str(exc).strip()}. Check COPILOT_DATABASE_URL"
            " (postgresql://user@host:5432/dbname), that the server is up and the database exists"
            " (createdb), and that the user may create tables in it."
        )
