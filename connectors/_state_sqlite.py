"""The embedded state store: one SQLite file (WAL) shared by every worker."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from copilot.errors import StoreError

from ._state import CLAIM_RETENTION_S, ChatState, StateStore, scrubbed

__all__ = ["SQLiteStateStore"]

log = logging.getLogger("copilot.state")
T = TypeVar("T")

# Named, once-only steps; the applied names are kept in state_migrations.
MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_chat_state_and_claims",
        "CREATE TABLE chat_state (key TEXT PRIMARY KEY, body TEXT NOT NULL, updated_at REAL NOT NULL);"
        "CREATE TABLE platform_claims (key TEXT PRIMARY KEY, claimed_at REAL NOT NULL);"
        "CREATE INDEX platform_claims_at ON platform_claims (claimed_at);",
    ),
    (
        "0002_sealed_secrets",
        "CREATE TABLE sealed_secrets (key TEXT PRIMARY KEY, value BLOB NOT NULL, updated_at REAL NOT NULL);",
    ),
]


class SQLiteStateStore(StateStore):
    """State in the SQLite file ``path``; several processes may share it."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not self.path.exists():
                self.path.touch(mode=0o600)
            conn = sqlite3.connect(
                self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the state store {self.path}: {exc}; check COPILOT_HOME") from exc
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            _migrate(conn)
            conn.execute(
                "DELETE FROM platform_claims WHERE claimed_at < ?", (time.time() - CLAIM_RETENTION_S,)
            )
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"cannot prepare the state store {self.path}: {exc}") from exc
        self._conn: sqlite3.Connection | None = conn

    def __repr__(self) -> str:
        return f"SQLiteStateStore({str(self.path)!r})"

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the state store {self.path} is closed")
        return self._conn

    def get(self, key: str) -> ChatState | None:
        with self._lock:
            row = self._run(
                lambda c: c.execute("SELECT body FROM chat_state WHERE key = ?", (key,)).fetchone()
            )
        return None if row is None else _parse(key, row[0])

    def update(self, key: str, change: Callable[[ChatState], ChatState]) -> ChatState:
        def step(conn: sqlite3.Connection) -> ChatState:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT body FROM chat_state WHERE key = ?", (key,)).fetchone()
                current = ChatState() if row is None else _parse(key, row[0])
                new = scrubbed(change(current))
                conn.execute(
                    "INSERT INTO chat_state (key, body, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
                    (key, new.model_dump_json(), new.updated_at),
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return new

        with self._lock:
            return self._run(step)

    def claim(self, key: str) -> bool:
        with self._lock:
            cursor = self._run(
                lambda c: c.execute(
                    "INSERT OR IGNORE INTO platform_claims (key, claimed_at) VALUES (?, ?)",
                    (key, time.time()),
                )
            )
        return cursor.rowcount == 1

    def put_secret(self, key: str, sealed: bytes | None) -> None:
        if sealed is None:
            statement, args = "DELETE FROM sealed_secrets WHERE key = ?", (key,)
        else:
            statement = (
                "INSERT INTO sealed_secrets (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key)"
                " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
            )
            args = (key, sealed, time.time())  # type: ignore[assignment]
        with self._lock:
            self._run(lambda c: c.execute(statement, args))

    def get_secret(self, key: str) -> bytes | None:
        with self._lock:
            row = self._run(
                lambda c: c.execute("SELECT value FROM sealed_secrets WHERE key = ?", (key,)).fetchone()
            )
        return None if row is None else bytes(row[0])

    def ping(self) -> None:
        with self._lock:
            self._run(lambda c: c.execute("SELECT count(*) FROM state_migrations").fetchone())

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._connection()
        started = time.perf_counter()
        try:
            return work(conn)
        except sqlite3.Error as exc:
            raise StoreError(f"state store {self.path}: {exc}") from exc
        finally:
            log.debug("state sqlite call %.1f ms", (time.perf_counter() - started) * 1000)


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS state_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    conn.execute("BEGIN IMMEDIATE")
    try:
        done = {name for (name,) in conn.execute("SELECT name FROM state_migrations")}
        for name, script in MIGRATIONS:
            if name not in done:
                for statement in filter(str.strip, script.split(";")):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO state_migrations (name, applied_at) VALUES (?, ?)", (name, time.time())
                )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _parse(key: str, body: str) -> ChatState:
    try:
        return ChatState.model_validate_json(body)
    except ValidationError as exc:
        raise StoreError(
            f"state for {key!r} is unreadable ({exc.error_count()} problem(s)); delete that row"
        ) from exc
