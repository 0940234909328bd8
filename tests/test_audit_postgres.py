"""The PostgreSQL audit store against the real local server: the shared conformance suite,
migrations from blank and from the previous schema, and 4 writer processes."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from test_audit import (
    PREVIOUS_FACT_COLUMNS,
    AuditStoreConformance,
    OpenStore,
    check_previous_schema_log,
    mixed,
    previous_schema_log,
    shown,
)

from audit import AuditStore, PostgresAuditStore, canonical_json, open_audit_store
from audit._checkpoint import write_checkpoint
from audit._pg_migrations import PG_MIGRATIONS, apply_pg_migrations
from audit._postgres import head_paths
from copilot.errors import ActionRefused, StoreError

SERVER = "postgresql://postgres@127.0.0.1:5432"


def _admin() -> psycopg.Connection[Any]:
    return psycopg.connect(f"{SERVER}/postgres", autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def pg_server() -> str:
    try:
        _admin().close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432 ({exc}); scripts/test starts it")
    return SERVER


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    name = f"copilot_issue12_test_{uuid.uuid4().hex[:10]}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"{pg_server}/{name}"
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PostgresTamperer:
    """Raw access as a database superuser would have it: triggers disabled, rows rewritten."""

    def __init__(self, store: PostgresAuditStore) -> None:
        self.url = store.url
        self.checkpoint_path = store.checkpoint_path

    def raw_edit(self, *statements: tuple[str, tuple[Any, ...]]) -> None:
        with psycopg.connect(self.url) as conn:
            conn.execute("ALTER TABLE audit_events DISABLE TRIGGER USER")
            for sql, params in statements:
                conn.execute(sql.replace("?", "%s"), params)
            conn.execute("ALTER TABLE audit_events ENABLE TRIGGER USER")

    def _row(self, seq: int) -> tuple[Any, ...]:
        with psycopg.connect(self.url) as conn:
            row = conn.execute("SELECT seq, body, hash FROM audit_events WHERE seq = %s", (seq,)).fetchone()
        assert row is not None
        return tuple(row)

    def edit_body(self, seq: int, *, rehash: bool = False, **changes: Any) -> None:
        body = {**json.loads(self._row(seq)[1]), **changes}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256((body["prev_hash"] + text).encode()).hexdigest()
        if rehash:
            self.raw_edit(("UPDATE audit_events SET body = ?, hash = ? WHERE seq = ?", (text, digest, seq)))
        else:
            self.raw_edit(("UPDATE audit_events SET body = ? WHERE seq = ?", (text, seq)))

    def rechain(self, from_seq: int) -> None:
        with psycopg.connect(self.url) as conn:
            query = "SELECT seq, body FROM audit_events WHERE seq >= %s ORDER BY seq"
            rows = conn.execute(query, (from_seq,)).fetchall()
            found = conn.execute("SELECT hash FROM audit_events WHERE seq = %s", (from_seq - 1,)).fetchone()
        assert found is not None
        prev = found[0]
        updates = []
        for seq, body in rows:
            text = canonical_json({**json.loads(body), "prev_hash": prev})
            prev = hashlib.sha256((prev + text).encode()).hexdigest()
            updates.append(("UPDATE audit_events SET body = ?, hash = ? WHERE seq = ?", (text, prev, seq)))
        self.raw_edit(*updates)

    def delete(self, *seqs: int) -> None:
        self.raw_edit(*[("DELETE FROM audit_events WHERE seq = ?", (seq,)) for seq in seqs])

    def swap(self, a: int, b: int) -> None:
        row_a, row_b = self._row(a), self._row(b)
        insert = "INSERT INTO audit_events (seq, body, hash) VALUES (?, ?, ?)"
        self.raw_edit(
            ("DELETE FROM audit_events WHERE seq IN (?, ?)", (a, b)),
            (insert, (a, *row_b[1:])),
            (insert, (b, *row_a[1:])),
        )

    def remove_checkpoint(self) -> None:
        self.checkpoint_path.unlink(missing_ok=True)

    def _attempt(self, sql: str, seq: int) -> str | None:
        try:
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(sql, (seq,))
        except psycopg.Error as exc:
            return str(exc)
        return None

    def attempt_update(self, seq: int) -> str | None:
        return self._attempt("UPDATE audit_events SET hash = upper(hash) WHERE seq = %s", seq)

    def attempt_delete(self, seq: int) -> str | None:
        return self._attempt("DELETE FROM audit_events WHERE seq = %s", seq)


class TestPostgresAuditStore(AuditStoreConformance):
    @pytest.fixture
    def open_store(self, pg_url: str, tmp_path: Path) -> Iterator[OpenStore]:
        opened: list[AuditStore] = []

        def factory() -> AuditStore:
            opened.append(PostgresAuditStore(pg_url, tmp_path))
            return opened[-1]

        yield factory
        for store in opened:
            store.close()

    @pytest.fixture
    def tamper(self, store: PostgresAuditStore) -> PostgresTamperer:
        return PostgresTamperer(store)

    def _migrations(self, url: str) -> list[tuple[str, str]]:
        with psycopg.connect(url) as conn:
            return [tuple(r) for r in conn.execute("SELECT name, applied_at FROM _migrations ORDER BY name")]  # type: ignore[misc]

    def test_migrations_run_once_from_a_blank_database(self, pg_url: str, tmp_path: Path) -> None:
        PostgresAuditStore(pg_url, tmp_path).close()
        first = self._migrations(pg_url)
        assert [name for name, _ in first] == [m.name for m in PG_MIGRATIONS]
        PostgresAuditStore(pg_url, tmp_path).close()
        assert self._migrations(pg_url) == first
        with psycopg.connect(pg_url, autocommit=True) as conn:
            assert apply_pg_migrations(conn) == []

    def test_migrations_from_the_previous_schema(self, pg_url: str, tmp_path: Path) -> None:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            assert apply_pg_migrations(conn, PG_MIGRATIONS[:-1]) == [m.name for m in PG_MIGRATIONS[:-1]]
        with PostgresAuditStore(pg_url, tmp_path) as store:
            store.append(mixed(3))
            assert "append-only" in (PostgresTamperer(store).attempt_delete(1) or "")
        assert [name for name, _ in self._migrations(pg_url)] == [m.name for m in PG_MIGRATIONS]

    def test_a_log_written_under_the_previous_schema_verifies_and_reports(
        self, pg_url: str, tmp_path: Path
    ) -> None:
        rows, facts, head = previous_schema_log()
        marks = ", ".join(["%s"] * len(PREVIOUS_FACT_COLUMNS))
        with psycopg.connect(pg_url, autocommit=True) as conn:
            apply_pg_migrations(conn, [m for m in PG_MIGRATIONS if m.name < "m005"])
            with conn.cursor() as cursor:
                cursor.executemany("INSERT INTO audit_events (seq, body, hash) VALUES (%s, %s, %s)", rows)
                cursor.executemany(
                    f"INSERT INTO audit_facts ({', '.join(PREVIOUS_FACT_COLUMNS)}) VALUES ({marks})", facts
                )
        write_checkpoint(head_paths(pg_url, tmp_path)[0], head)
        with PostgresAuditStore(pg_url, tmp_path) as store:
            check_previous_schema_log(store)

    def test_rows_are_seq_body_hash_and_lookups_use_the_facts(self, store: PostgresAuditStore) -> None:
        store.append([shown(4)])
        with psycopg.connect(store.url) as conn:
            columns = conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'audit_events'"
                " ORDER BY ordinal_position"
            ).fetchall()
            row = conn.execute("SELECT type, set_id, event_id FROM audit_facts WHERE seq = 1").fetchone()
        assert [c for (c,) in columns] == ["seq", "body", "hash"]  # no JSON parsed per append
        assert row[:2] == ("suggestion_shown", "ss-4") and store.check_facts().ok

    def test_second_final_action_is_refused_by_the_database(self, store: PostgresAuditStore) -> None:
        store.append([shown(1)])
        action = {"type": "rep_action", "suggestion_set_id": "ss-1", "action": "dismissed"}
        from audit import AuditEvent

        store.append([AuditEvent(**action)])  # type: ignore[arg-type]
        with pytest.raises(ActionRefused, match="already has its final action"):
            store.append([AuditEvent(**action)])  # type: ignore[arg-type]
        assert store.count() == 2 and store.verify().ok

    def test_server_down_is_a_clear_store_error(self, tmp_path: Path) -> None:
        with pytest.raises(StoreError, match="server is up"):
            PostgresAuditStore("postgresql://postgres:secret@127.0.0.1:1/nope", tmp_path, busy_timeout_s=1)

    def test_password_never_in_messages(self, tmp_path: Path) -> None:
        with pytest.raises(StoreError) as caught:
            open_audit_store("postgresql://postgres:hunter2@127.0.0.1:1/nope", home=tmp_path)
        assert "hunter2" not in str(caught.value)


# -- several processes appending at once --------------------------------------------


def _writer(target: str, home: str, worker: int, barrier: Any) -> int:
    with open_audit_store(target, home=home) as store:
        barrier.wait()
        for n in range(25):
            store.append([shown(worker * 1000 + n)] + ([] if n % 2 else mixed(2)))
    return worker


def _four_writers(target: str, home: Path) -> None:
    with open_audit_store(target, home=home) as store:
        store.append([shown(0)])
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Manager().Barrier(4)
    with ctx.Pool(4) as pool:
        assert sorted(pool.starmap(_writer, [(target, str(home), w, barrier) for w in range(4)])) == [
            0,
            1,
            2,
            3,
        ]
    with open_audit_store(target, home=home) as store:
        report = store.verify()
        assert report.ok, report
        assert report.rows_checked == 1 + 4 * (25 + 2 * 13)


def test_four_writer_processes_make_one_chain_on_postgres(pg_url: str, tmp_path: Path) -> None:
    _four_writers(pg_url, tmp_path)


def test_four_writer_processes_make_one_chain_on_sqlite(tmp_path: Path) -> None:
    _four_writers(str(tmp_path / "audit.sqlite3"), tmp_path)


def test_verify_on_binary_rows_agrees_with_the_text_walk(pg_url: str, tmp_path: Path) -> None:
    """PostgresAuditStore.verify reads the rows in binary format; the base walk reads text."""
    from audit._sql import SqlAuditStore

    with PostgresAuditStore(pg_url, tmp_path) as store:
        store.append(mixed(40))
        report = store.verify()
        assert report.ok and report.rows_checked == 40 and report == SqlAuditStore.verify(store)
        PostgresTamperer(store).edit_body(17, final_text="edited afterwards")
        bad = store.verify()
        assert (bad.ok, bad.first_bad_seq, bad.damage) == (False, 17, "edited")
        assert bad == SqlAuditStore.verify(store)
