"""The state store on PostgreSQL (``COPILOT_DATABASE_URL``), shared by every worker."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

from copilot.errors import StoreError

from ._state import CLAIM_RETENTION_S, ChatState, StateStore, scrubbed

__all__ = ["PostgresStateStore"]

log = logging.getLogger("copilot.state")
T = TypeVar("T")

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_chat_state_and_claims",
        "CREATE TABLE copilot_chat_state (key TEXT PRIMARY KEY, body JSONB NOT NULL,"
        " updated_at DOUBLE PRECISION NOT NULL);"
        "CREATE TABLE copilot_platform_claims (key TEXT PRIMARY KEY, claimed_at DOUBLE PRECISION NOT NULL);"
        "CREATE INDEX copilot_platform_claims_at ON copilot_platform_claims (claimed_at);",
    ),
    (
        "0002_sealed_secrets",
        "CREATE TABLE copilot_sealed_secrets (key TEXT PRIMARY KEY, value BYTEA NOT NULL,"
        " updated_at DOUBLE PRECISION NOT NULL);",
    ),
]


class PostgresStateStore(StateStore):
    """State in the PostgreSQL database at ``url`` (one connection, shared by threads)."""

    def __init__(self, url: str, *, connect_timeout_s: int = 10) -> None:
        self._url = url
        self._where = _where(url)
        self._lock = threading.Lock()
        self._connect_timeout_s = connect_timeout_s
        self._conn: psycopg.Connection[Any] | None = self._connect()
        self._run(_migrate)
        self._run(
            lambda c: c.execute(
                "DELETE FROM copilot_platform_claims WHERE claimed_at < %s",
                (time.time() - CLAIM_RETENTION_S,),
            )
        )

    def __repr__(self) -> str:
        return f"PostgresStateStore({self._where!r})"

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self._url, autocommit=True, connect_timeout=self._connect_timeout_s)
        except psycopg.Error as exc:
            message = f"cannot connect to the state database {self._where}: {exc}; check COPILOT_DATABASE_URL"
            raise StoreError(message) from None

    def get(self, key: str) -> ChatState | None:
        row = self._run(
            lambda c: c.execute("SELECT body::text FROM copilot_chat_state WHERE key = %s", (key,)).fetchone()
        )
        return None if row is None else ChatState.model_validate_json(row[0])

    def update(self, key: str, change: Callable[[ChatState], ChatState]) -> ChatState:
        def step(conn: psycopg.Connection[Any]) -> ChatState:
            with conn.transaction():
                conn.execute(
                    "INSERT INTO copilot_chat_state (key, body, updated_at) VALUES (%s, '{}'::jsonb, 0)"
                    " ON CONFLICT (key) DO NOTHING",
                    (key,),
                )
                row = conn.execute(
                    "SELECT body::text, updated_at FROM copilot_chat_state WHERE key = %s FOR UPDATE", (key,)
                ).fetchone()
                assert row is not None
                current = ChatState() if row[1] == 0 else ChatState.model_validate_json(row[0])
                new = scrubbed(change(current))
                conn.execute(
                    "UPDATE copilot_chat_state SET body = %s::jsonb, updated_at = %s WHERE key = %s",
                    (new.model_dump_json(), new.updated_at, key),
                )
            return new

        return self._run(step)

    def claim(self, key: str) -> bool:
        cursor = self._run(
            lambda c: c.execute(
                "INSERT INTO copilot_platform_claims (key, claimed_at) VALUES (%s, %s)"
                " ON CONFLICT (key) DO NOTHING",
                (key, time.time()),
            )
        )
        return cursor.rowcount == 1

    def put_secret(self, key: str, sealed: bytes | None) -> None:
        if sealed is None:
            self._run(lambda c: c.execute("DELETE FROM copilot_sealed_secrets WHERE key = %s", (key,)))
            return
        self._run(
            lambda c: c.execute(
                "INSERT INTO copilot_sealed_secrets (key, value, updated_at) VALUES (%s, %s, %s)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (key, sealed, time.time()),
            )
        )

    def get_secret(self, key: str) -> bytes | None:
        row = self._run(
            lambda c: c.execute("SELECT value FROM copilot_sealed_secrets WHERE key = %s", (key,)).fetchone()
        )
        return None if row is None else bytes(row[0])

    def ping(self) -> None:
        self._run(lambda c: c.execute("SELECT 1").fetchone())

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _run(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        started = time.perf_counter()
        with self._lock:
            if self._conn is None:
                raise StoreError(f"the state store {self._where} is closed")
            if self._conn.broken:
                self._conn = self._connect()
            try:
                return work(self._conn)
            except psycopg.Error as exc:
                raise StoreError(f"state database {self._where}: {exc}") from None
            finally:
                log.debug("state postgres call %.1f ms", (time.perf_counter() - started) * 1000)


def _migrate(conn: psycopg.Connection[Any]) -> None:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(7216001)")  # one worker migrates at a time
        conn.execute(
            "CREATE TABLE IF NOT EXISTS copilot_state_migrations (name TEXT PRIMARY KEY,"
            " applied_at DOUBLE PRECISION NOT NULL)"
        )
        done = {name for (name,) in conn.execute("SELECT name FROM copilot_state_migrations")}
        for name, script in MIGRATIONS:
            if name not in done:
                for statement in filter(str.strip, script.split(";")):
                    conn.execute(statement.encode())
                conn.execute(
                    "INSERT INTO copilot_state_migrations (name, applied_at) VALUES (%s, %s)",
                    (name, time.time()),
                )


def _where(url: str) -> str:
    """The URL without credentials, for messages and logs."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "postgresql://(unparsable URL)"
    return f"postgresql://{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"
