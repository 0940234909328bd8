"""Conversation state and idempotency claims: one conformance suite, both backends."""

from __future__ import annotations

import contextlib
import multiprocessing
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from connectors import ChatState, ShownSet, StateStore, open_state_store
from connectors._state_sqlite import MIGRATIONS as STATE_MIGRATIONS
from connectors._state_sqlite import SQLiteStateStore
from copilot import Deal, Message, Participant, Settings
from copilot.errors import StoreError

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "copilot_issue10_state_test"


def _pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh database on the local PostgreSQL server for this session."""
    if not _pg_available():
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{PG_DB}"')
    yield f"postgresql://postgres@127.0.0.1:5432/{PG_DB}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')


def _reset_pg(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "DROP TABLE IF EXISTS copilot_chat_state, copilot_platform_claims, copilot_sealed_secrets,"
            " copilot_state_migrations"
        )


def _claim_in_process(settings_json: str, key: str, out: multiprocessing.Queue[bool]) -> None:
    store = open_state_store(Settings.model_validate_json(settings_json))
    try:
        out.put(store.claim(key))
    finally:
        store.close()


class StateStoreConformance:
    """Every ``StateStore`` backend passes these; subclasses provide ``settings``."""

    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        raise NotImplementedError

    @pytest.fixture
    def store(self, settings: Settings) -> Iterator[StateStore]:
        opened = open_state_store(settings)
        yield opened
        opened.close()

    def test_new_chat_is_none_then_updates_round_trip(self, store: StateStore) -> None:
        assert store.get("slack:C1") is None
        deal = Deal(customer="华东精工", industry="manufacturing", stage="proposal", product="MES Cloud")
        stored = store.update("slack:C1", lambda s: s.model_copy(update={"deal": deal}))
        assert stored.deal == deal
        got = store.get("slack:C1")
        assert got is not None and got.deal == deal and got.updated_at > 0
        assert store.get("slack:C2") is None

    def test_everything_written_is_redacted(self, store: StateStore) -> None:
        def change(state: ChatState) -> ChatState:
            return state.model_copy(
                update={
                    "participants": [Participant(id="U1", name="li@example.com", side="customer")],
                    "messages": [Message(sender="U1", text="call me on 13812345678")],
                    "shown": [ShownSet(id="ss-1", rep="U0", suggestions=["mail li@example.com"], at=1.0)],
                }
            )

        stored = store.update("slack:C1:1.0", change)
        again = store.get("slack:C1:1.0")
        assert again == stored
        dumped = again.model_dump_json() if again else ""
        assert "13812345678" not in dumped and "li@example.com" not in dumped
        assert "[PHONE_1]" in dumped and "[EMAIL_1]" in dumped

    def test_concurrent_updates_of_one_key_all_land(self, store: StateStore) -> None:
        def add(n: int) -> None:
            def change(state: ChatState) -> ChatState:
                return state.model_copy(
                    update={"messages": [*state.messages, Message(sender="U", text=str(n))]}
                )

            store.update("slack:C9", change)

        threads = [threading.Thread(target=add, args=(n,)) for n in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        final = store.get("slack:C9")
        assert final is not None
        assert sorted(int(m.text) for m in final.messages) == list(range(20))

    def test_a_failed_change_stores_nothing(self, store: StateStore) -> None:
        def boom(state: ChatState) -> ChatState:
            raise ValueError("no")

        with pytest.raises(ValueError):
            store.update("slack:C3", boom)
        assert store.get("slack:C3") is None

    def test_claim_is_true_once(self, store: StateStore) -> None:
        assert store.claim("slack:event:Ev1") is True
        assert store.claim("slack:event:Ev1") is False
        assert store.claim("slack:event:Ev2") is True

    def test_claim_is_true_once_across_processes(self, settings: Settings) -> None:
        ctx = multiprocessing.get_context("spawn")
        results: multiprocessing.Queue[bool] = ctx.Queue()
        procs = [
            ctx.Process(
                target=_claim_in_process, args=(settings.model_dump_json(), "slack:event:EvX", results)
            )
            for _ in range(4)
        ]
        for proc in procs:
            proc.start()
        outcomes = [results.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join(timeout=60)
        assert sorted(outcomes) == [False, False, False, True]

    def test_reopening_keeps_state_and_claims(self, settings: Settings, store: StateStore) -> None:
        store.update("wecom:chat1", lambda s: s.model_copy(update={"deal": Deal(customer="ACME")}))
        store.claim("wecom:msg:1")
        store.close()
        reopened = open_state_store(settings)
        try:
            state = reopened.get("wecom:chat1")
            assert state is not None and state.deal == Deal(customer="ACME")
            assert reopened.claim("wecom:msg:1") is False
            reopened.ping()
        finally:
            reopened.close()

    def test_sealed_secrets_round_trip_untouched_and_delete(
        self, settings: Settings, store: StateStore
    ) -> None:
        sealed = bytes(range(256)) + b"13812345678 a@b.cn"  # bytes as given, not redacted
        assert store.get_secret("slack:user-token:U1") is None
        store.put_secret("slack:user-token:U1", sealed)
        store.put_secret("slack:user-token:U1", sealed + b"!")
        store.close()
        reopened = open_state_store(settings)
        try:
            assert reopened.get_secret("slack:user-token:U1") == sealed + b"!"
            reopened.put_secret("slack:user-token:U1", None)
            reopened.put_secret("slack:user-token:U9", None)  # deleting nothing is fine
            assert reopened.get_secret("slack:user-token:U1") is None
        finally:
            reopened.close()

    def test_closed_store_raises_store_error(self, store: StateStore) -> None:
        store.close()
        with pytest.raises(StoreError, match="closed"):
            store.get("x")

    def test_shown_sets_are_capped_and_replaced_by_id(self) -> None:
        state = ChatState()
        for n in range(30):
            state = state.with_set(ShownSet(id=f"ss-{n}", rep="U", at=float(n)))
        state = state.with_set(ShownSet(id="ss-29", rep="U", at=99.0, acted=True))
        assert len(state.shown) == 20 and state.shown[-1].acted
        assert state.shown_set("ss-29") is not None and state.shown_set("ss-0") is None


class TestSQLiteStateStore(StateStoreConformance):
    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        return Settings(home=tmp_path / "home")

    def test_file_is_private(self, settings: Settings, store: StateStore) -> None:
        assert isinstance(store, SQLiteStateStore)
        assert stat.S_IMODE(settings.state_path.stat().st_mode) == 0o600
        assert stat.S_IMODE(settings.home.stat().st_mode) == 0o700

    def test_upgrades_from_the_previous_schema(self, settings: Settings) -> None:
        """A state file written before sealed secrets existed gains them and keeps its rows."""
        settings.home.mkdir(mode=0o700)
        with contextlib.closing(sqlite3.connect(settings.state_path)) as conn, conn:
            conn.execute("CREATE TABLE state_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
            for statement in filter(str.strip, STATE_MIGRATIONS[0][1].split(";")):
                conn.execute(statement)
            conn.execute("INSERT INTO state_migrations VALUES (?, 0)", (STATE_MIGRATIONS[0][0],))
            conn.execute("INSERT INTO platform_claims VALUES ('slack:event:Ev1', ?)", (time.time(),))
        store = open_state_store(settings)
        try:
            assert store.claim("slack:event:Ev1") is False
            store.put_secret("k", b"sealed")
            assert store.get_secret("k") == b"sealed"
        finally:
            store.close()

    def test_unwritable_home_is_a_store_error(self, tmp_path: Path) -> None:
        blocker = tmp_path / "file"
        blocker.write_text("x")
        with pytest.raises(StoreError, match="COPILOT_HOME"):
            SQLiteStateStore(blocker / "state.sqlite3")


class TestPostgresStateStore(StateStoreConformance):
    @pytest.fixture
    def settings(self, tmp_path: Path, pg_url: str) -> Settings:
        _reset_pg(pg_url)
        return Settings(home=tmp_path / "home", database_url=pg_url)

    def test_unreachable_database_names_the_setting_without_credentials(self, tmp_path: Path) -> None:
        url = "postgresql://bob:hunter2@127.0.0.1:1/nowhere"
        with pytest.raises(StoreError, match="COPILOT_DATABASE_URL") as caught:
            open_state_store(Settings(home=tmp_path, database_url=url))
        assert "hunter2" not in str(caught.value)


def test_serve_app_on_postgres_answers_health(tmp_path: Path, pg_url: str) -> None:
    """With COPILOT_DATABASE_URL set, the audit log and the chat state both live in PostgreSQL."""
    import httpx
    from asgi_server import serve_in_thread

    from copilot._app import create_app

    _reset_pg(pg_url)
    settings = Settings(home=tmp_path / "home", database_url=pg_url)
    with serve_in_thread(create_app(settings)) as url:
        health = httpx.get(f"{url}/healthz")
    assert health.status_code == 200, health.text
    assert health.json()["checks"] == {"state": "ok", "audit": "ok", "atoms": "ok"}
    assert not (tmp_path / "home" / "state.sqlite3").exists()
