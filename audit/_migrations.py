"""Named, once-only schema migrations for the SQLite audit store.

Each migration runs in its own write transaction and is recorded by name in
``_migrations``; a database that already has it skips it. Add new steps at the
end, never edit or reorder a shipped one.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ._facts import DIM_COLUMNS, dims_key

__all__ = ["LOOKUPS_ON_FACTS", "MIGRATIONS", "Migration", "applied_migrations", "apply_migrations"]

logger = logging.getLogger("copilot.audit")


@dataclass(frozen=True)
class Migration:
    name: str
    statements: tuple[str, ...]
    run: Callable[[Any], None] | None = None
    """Python run after the statements, in the same transaction (data SQL cannot compute)."""


def _dims_of_old_facts(conn: sqlite3.Connection) -> None:
    conn.create_function("audit_dims_key", len(DIM_COLUMNS), lambda *v: dims_key(v), deterministic=True)
    columns = ", ".join(DIM_COLUMNS)
    conn.execute(f"UPDATE audit_facts SET dims = audit_dims_key({columns}) WHERE type = 'suggestion_shown'")
    conn.execute(
        f"INSERT OR IGNORE INTO audit_dims (key, {columns}) SELECT dims, {columns} FROM audit_facts"
        " WHERE type = 'suggestion_shown' GROUP BY dims"
    )


LOOKUPS_ON_FACTS = (
    # m006 on both backends, once the two columns exist: fill them from the rows, index the
    # lookups on them, and drop the indexes on columns generated from the JSON body.
    """
    UPDATE audit_facts AS f SET event_id = e.event_id, conversation_id = e.conversation_id
    FROM audit_events AS e WHERE e.seq = f.seq
    """,
    "CREATE UNIQUE INDEX audit_facts_event_id ON audit_facts (event_id)",
    "CREATE INDEX audit_facts_type ON audit_facts (type, seq)",
    # By span of 1024 seqs first (LOOKUP_SPAN in _facts.py): an append then touches the
    # few pages of the newest span, not one page per rep and per conversation.
    "CREATE INDEX audit_facts_conversation ON audit_facts ((seq / 1024), conversation_id)",
    "CREATE INDEX audit_facts_actor ON audit_facts ((seq / 1024), actor)",
    "CREATE INDEX audit_facts_set ON audit_facts (set_id, type)",
    "CREATE UNIQUE INDEX audit_facts_one_action ON audit_facts (set_id) WHERE type = 'rep_action'",
    "DROP INDEX audit_facts_shown_set",
    "DROP INDEX audit_events_event_id",
    "DROP INDEX audit_events_type",
    "DROP INDEX audit_events_conversation",
    "DROP INDEX audit_events_suggestion_set",
    "DROP INDEX audit_events_one_action",
    "DROP INDEX audit_events_actor",
    "DROP INDEX audit_events_at",
)
"""Shipped in m006: never edit."""


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "m001_audit_events",
        (
            # The hashed JSON text is the only copy of the event; the filter
            # columns are generated from it, so they cannot disagree with it.
            """
            CREATE TABLE audit_events (
                seq INTEGER PRIMARY KEY,
                body TEXT NOT NULL,
                hash TEXT NOT NULL,
                event_id TEXT GENERATED ALWAYS AS (json_extract(body, '$.event_id')) VIRTUAL,
                at TEXT GENERATED ALWAYS AS (json_extract(body, '$.at')) VIRTUAL,
                type TEXT GENERATED ALWAYS AS (json_extract(body, '$.type')) VIRTUAL,
                actor TEXT GENERATED ALWAYS AS (json_extract(body, '$.actor')) VIRTUAL,
                conversation_id TEXT GENERATED ALWAYS AS (json_extract(body, '$.conversation_id')) VIRTUAL,
                suggestion_set_id TEXT GENERATED ALWAYS AS (json_extract(body, '$.suggestion_set_id')) VIRTUAL
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
            CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
            BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE is refused'); END
            """,
            """
            CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
            BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE is refused'); END
            """,
        ),
    ),
    Migration(
        "m003_one_final_action_per_set",
        (
            # One rep_action per suggestion set, enforced by the database so that
            # two presses racing in two processes cannot both record one.
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
            # Derived from the hashed bodies at append time, for reports (see _facts.py).
            """
            CREATE TABLE audit_facts (
                seq INTEGER PRIMARY KEY, type TEXT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL,
                set_id TEXT NOT NULL, action TEXT, idx INTEGER, edit_distance INTEGER, helpful INTEGER,
                atom_id TEXT NOT NULL, latency_ms REAL, engine TEXT NOT NULL, fallback INTEGER NOT NULL,
                prompts TEXT NOT NULL, competitor TEXT NOT NULL, missing_roles TEXT NOT NULL,
                citations TEXT NOT NULL
            )
            """,
            "CREATE INDEX audit_facts_at ON audit_facts (at)",
        ),
    ),
    Migration(
        "m005_facts_final_action",
        (
            # Each set's final action on its suggestion_shown facts row, so that a report
            # is one GROUP BY over one table (a million events in about a second).
            # ``dims``: one integer key of what a report breaks a set down by (audit_dims
            # maps it back), since SQLite groups by sorting and short keys sort fast.
            "ALTER TABLE audit_facts ADD COLUMN set_action TEXT",
            "ALTER TABLE audit_facts ADD COLUMN set_idx INTEGER",
            "ALTER TABLE audit_facts ADD COLUMN dims INTEGER",
            """
            CREATE TABLE audit_dims (
                key INTEGER PRIMARY KEY, actor TEXT NOT NULL, engine TEXT NOT NULL, prompts TEXT NOT NULL,
                competitor TEXT NOT NULL, missing_roles TEXT NOT NULL, citations TEXT NOT NULL,
                fallback INTEGER NOT NULL
            )
            """,
            "CREATE INDEX audit_facts_shown_set ON audit_facts (set_id) WHERE type = 'suggestion_shown'",
            """
            UPDATE audit_facts SET set_action = a.action, set_idx = a.idx
            FROM (SELECT set_id, action, idx FROM audit_facts WHERE type = 'rep_action') AS a
            WHERE audit_facts.type = 'suggestion_shown' AND audit_facts.set_id = a.set_id
            """,
        ),
        _dims_of_old_facts,
    ),
    Migration(
        "m006_lookups_on_facts",
        (
            # Lookups (by type, conversation, set, rep, time, event id) and the one-final-
            # action rule move to plain columns of audit_facts, written with each row from
            # the values that were hashed. Indexes on columns generated from the JSON body
            # parsed every body once per index on each append (half its cost). The generated
            # columns stay, for ad-hoc SQL and for `copilot audit verify --facts`.
            "ALTER TABLE audit_facts ADD COLUMN event_id TEXT",
            "ALTER TABLE audit_facts ADD COLUMN conversation_id TEXT",
            *LOOKUPS_ON_FACTS,
        ),
    ),
)


def applied_migrations(conn: sqlite3.Connection) -> list[str]:
    """Names of the migrations recorded in ``conn``, in the order they ran."""
    conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    return [name for (name,) in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]


def apply_migrations(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """Run the migrations ``conn`` has not had yet; return the names run now.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Safe when
    several processes open a blank database at once: each step re-checks
    ``_migrations`` inside its own ``BEGIN IMMEDIATE``.
    """
    done = set(applied_migrations(conn))
    ran: list[str] = []
    for migration in migrations:
        if migration.name in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("SELECT 1 FROM _migrations WHERE name = ?", (migration.name,)).fetchone() is None:
                started = time.monotonic()
                for statement in migration.statements:
                    conn.execute(statement)
                if migration.run is not None:
                    migration.run(conn)
                applied_at = datetime.now(UTC).isoformat(timespec="microseconds")
                conn.execute(
                    "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (migration.name, applied_at)
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
