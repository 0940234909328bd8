"""The PostgreSQL schema: the same named, once-only migrations as SQLite, in PostgreSQL SQL.

Each step runs in its own transaction under an advisory lock, so that several
processes opening a blank database at once apply each step exactly once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ._migrations import LOOKUPS_ON_FACTS, Migration

__all__ = ["PG_MIGRATIONS", "apply_pg_migrations", "pg_applied_migrations"]

logger = logging.getLogger("copilot.audit")

MIGRATION_LOCK = 0x5C0A_0D17_0001


def _generated(column: str, field: str) -> str:
    return f"{column} TEXT GENERATED ALWAYS AS ((body::jsonb) ->> '{field}') STORED"


PG_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "m001_audit_events",
        (
            f"""
            CREATE TABLE audit_events (
                seq BIGINT PRIMARY KEY,
                body TEXT NOT NULL,
                hash TEXT NOT NULL,
                {_generated("event_id", "event_id")},
                {_generated("at", "at")},
                {_generated("type", "type")},
                {_generated("actor", "actor")},
                {_generated("conversation_id", "conversation_id")},
                {_generated("suggestion_set_id", "suggestion_set_id")}
            )
            """,
            "CREATE UNIQUE INDEX audit_events_event_id ON audit_events (event_id)",
            "CREATE INDEX audit_events_type ON audit_events (type, seq)",
            "CREATE INDEX audit_events_conversation ON audit_events (conversation_id, seq)",
            "CREATE INDEX audit_events_suggestion_set ON audit_events (suggestion_set_id)",
        ),
    ),
    Migration(
        "m002_append_only_triggers",
        (
            """
            CREATE FUNCTION audit_events_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'audit events are append-only: % is refused', TG_OP; END $$
            """,
            """
            CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
            FOR EACH ROW EXECUTE FUNCTION audit_events_refuse()
            """,
            """
            CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
            FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse()
            """,
        ),
    ),
    Migration(
        "m003_one_final_action_per_set",
        (
            """
            CREATE UNIQUE INDEX audit_events_one_action ON audit_events (suggestion_set_id)
            WHERE type = 'rep_action'
            """,
            "CREATE INDEX audit_events_actor ON audit_events (actor, seq)",
            "CREATE INDEX audit_events_at ON audit_events (at)",
        ),
    ),
    Migration(
        "m004_audit_facts",
        (
            """
            CREATE TABLE audit_facts (
                seq BIGINT PRIMARY KEY, type TEXT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL,
                set_id TEXT NOT NULL, action TEXT, idx INTEGER, edit_distance INTEGER, helpful INTEGER,
                atom_id TEXT NOT NULL, latency_ms DOUBLE PRECISION, engine TEXT NOT NULL,
                fallback INTEGER NOT NULL, prompts TEXT NOT NULL, competitor TEXT NOT NULL,
                missing_roles TEXT NOT NULL, citations TEXT NOT NULL
            )
            """,
            "CREATE INDEX audit_facts_at ON audit_facts (at)",
        ),
    ),
    Migration(
        "m005_facts_final_action",
        (
            "ALTER TABLE audit_facts ADD COLUMN set_action TEXT, ADD COLUMN set_idx INTEGER",
            "CREATE INDEX audit_facts_shown_set ON audit_facts (set_id) WHERE type = 'suggestion_shown'",
            """
            UPDATE audit_facts AS s SET set_action = a.action, set_idx = a.idx
            FROM audit_facts AS a
            WHERE s.type = 'suggestion_shown' AND a.type = 'rep_action' AND a.set_id = s.set_id
            """,
        ),
    ),
    Migration(
        "m006_lookups_on_facts",
        (
            # As SQLite's m006: lookups and the one-final-action rule on plain facts columns,
            # so that an append maintains no index on the generated (parsed-JSON) columns.
            "ALTER TABLE audit_facts ADD COLUMN event_id TEXT, ADD COLUMN conversation_id TEXT",
            *LOOKUPS_ON_FACTS,
            # PostgreSQL stores generated columns, parsing each body once per column on
            # every append; nothing reads them any more (dropping a column is instant).
            """
            ALTER TABLE audit_events DROP COLUMN event_id, DROP COLUMN at, DROP COLUMN type,
                DROP COLUMN actor, DROP COLUMN conversation_id, DROP COLUMN suggestion_set_id
            """,
        ),
    ),
)


def pg_applied_migrations(conn: Any) -> list[str]:
    """Names of the migrations recorded in ``conn``, in the order they ran."""
    conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    return [name for (name,) in conn.execute("SELECT name FROM _migrations ORDER BY applied_at, name")]


def apply_pg_migrations(conn: Any, migrations: Sequence[Migration] = PG_MIGRATIONS) -> list[str]:
    """Run the migrations ``conn`` (autocommit) has not had yet; return the names run now."""
    conn.execute("BEGIN")
    try:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    ran: list[str] = []
    for migration in migrations:
        conn.execute("BEGIN")
        try:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            done = conn.execute("SELECT 1 FROM _migrations WHERE name = %s", (migration.name,)).fetchone()
            if done is None:
                started = time.monotonic()
                for statement in migration.statements:
                    conn.execute(statement)
                if migration.run is not None:
                    migration.run(conn)
                applied_at = datetime.now(UTC).isoformat(timespec="microseconds")
                conn.execute(
                    "INSERT INTO _migrations (name, applied_at) VALUES (%s, %s)", (migration.name, applied_at)
                )
                ran.append(migration.name)
                logger.info(
                    "audit migration %s applied in %.1f s", migration.name, time.monotonic() - started
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return ran
