"""The decision audit log.

``AuditStoreConformance`` is the suite every ``AuditStore`` backend must pass:
subclass it, override the ``open_store`` fixture (a factory opening a store on
one shared location) and the ``tamper`` fixture (raw access to that location,
as an attacker with file or database access would have). ``TestSQLiteAuditStore``
is the embedded backend's subclass, plus what only SQLite has.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

import pytest
from pydantic import ValidationError

from audit import (
    GENESIS_HASH,
    AuditEvent,
    AuditStore,
    SQLiteAuditStore,
    build_report,
    canonical_json,
    chain_hash,
    open_audit_store,
)
from audit._checkpoint import Checkpoint, write_checkpoint
from audit._facts import FACT_COLUMNS, LOOKUP_SPAN, fact_of
from audit._group import Pending
from audit._migrations import MIGRATIONS, apply_migrations
from audit._rows import prepare
from copilot.errors import ActionRefused, AuditIntegrityError, ConfigError, StoreError

OpenStore = Callable[[], AuditStore]


class Tamperer(Protocol):
    """Raw access to a backend's storage, bypassing the store and its guards."""

    def edit_body(self, seq: int, *, rehash: bool = False, **changes: Any) -> None: ...
    def rechain(self, from_seq: int) -> None: ...
    def delete(self, *seqs: int) -> None: ...
    def swap(self, a: int, b: int) -> None: ...
    def remove_checkpoint(self) -> None: ...
    def attempt_update(self, seq: int) -> str | None: ...
    def attempt_delete(self, seq: int) -> str | None: ...
    def raw_edit(self, *statements: tuple[str, tuple[Any, ...]]) -> None: ...


def shown(n: int = 0, **fields: Any) -> AuditEvent:
    base: dict[str, Any] = {
        "type": "suggestion_shown",
        "actor": f"rep-{n % 3}",
        "conversation_id": f"slack:C{n % 4}",
        "suggestion_set_id": f"ss-{n}",
        "input_digest": hashlib.sha256(str(n).encode()).hexdigest(),
        "output": {"suggestions": [{"text": f"建议 {n}", "citations": ["obj-price-too-high-mfg"]}]},
        "engine": "grounded",
        "atoms": {"obj-price-too-high-mfg": 3},
        "latency_ms": 9.8,
    }
    return AuditEvent(**{**base, **fields})


def rep_action(n: int = 0, **fields: Any) -> AuditEvent:
    """A final action on a set of its own (a set takes one final action)."""
    base: dict[str, Any] = {
        "type": "rep_action",
        "actor": f"rep-{n % 3}",
        "conversation_id": f"slack:C{n % 4}",
        "suggestion_set_id": f"ss-{n}-{uuid.uuid4().hex[:8]}",
        "action": "edited",
        "final_text": f"王经理您好，方案 {n} 已更新",
        "edit_distance": 4,
    }
    return AuditEvent(**{**base, **fields})


def mixed(count: int) -> list[AuditEvent]:
    kinds = [shown, rep_action, lambda n: AuditEvent(type="feedback", actor="rep-1", helpful=n % 2 == 0)]
    return [kinds[n % 3](n) for n in range(count)]


def fill(store: AuditStore, count: int, batch: int = 50) -> list[AuditEvent]:
    events = mixed(count)
    stored: list[AuditEvent] = []
    for start in range(0, count, batch):
        stored += store.append(events[start : start + batch])
    return stored


def review_events() -> list[AuditEvent]:
    """Twelve sets over twelve hours: every final action, feedback, fallbacks, competitors."""
    at = datetime(2026, 11, 1, 9, tzinfo=UTC)
    actions: list[tuple[str, int | None] | None] = [
        ("sent_as_is", 0),
        ("edited", 1),
        ("dismissed", None),
        ("wrote_own", None),
        ("ignored", None),
        None,
    ]
    events: list[AuditEvent] = []
    for n in range(12):
        output: dict[str, Any] = {
            "suggestions": [{"text": f"s{i}", "citations": [f"atom-{(n + i) % 4}"]} for i in range(3)],
            "decision_chain": {"missing_roles": ["cfo"] if n % 2 else ["cfo", "legal"]},
            "competitor": {"name": "极光数仓"} if n % 3 == 0 else None,
            "fallback": {"reason": "timeout"} if n % 5 == 0 else None,
        }
        events.append(
            shown(
                n,
                at=at + timedelta(hours=n),
                output=output,
                prompt_versions={"reply": f"reply@{n % 2}"},
                latency_ms=float(5 + (n * 7) % 11),
            )
        )
        chosen = actions[n % len(actions)]
        if chosen is not None:
            kind, index = chosen
            events.append(
                AuditEvent(
                    type="rep_action",
                    at=at + timedelta(hours=n, minutes=5),
                    actor=f"rep-{n % 3}",
                    suggestion_set_id=f"ss-{n}",
                    action=kind,  # type: ignore[arg-type]
                    suggestion_index=index,
                )
            )
        if n % 4 == 0:
            events.append(
                AuditEvent(
                    type="feedback",
                    at=at + timedelta(hours=n, minutes=6),
                    actor=f"rep-{n % 3}",
                    suggestion_set_id=f"ss-{n}",
                    helpful=n != 4,
                    atom_id=f"atom-{n % 4}" if n else "",
                )
            )
    return events


PREVIOUS_FACT_COLUMNS = FACT_COLUMNS[: FACT_COLUMNS.index("event_id")]
"""The facts columns before m006 (which added the lookup columns)."""


def previous_schema_log() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], Checkpoint]:
    """Rows, facts (for the older half only: the rest predate the facts table) and head
    of a log as the schema before m005 held it (opening it runs m005 and m006)."""
    events = review_events()
    prev, rows, facts = GENESIS_HASH, [], []
    for seq, event in enumerate(events, start=1):
        row = {**event.chain_row(), "seq": seq, "prev_hash": prev}
        body = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        prev = hashlib.sha256((prev + body).encode("utf-8")).hexdigest()
        rows.append((seq, body, prev))
        if seq <= len(events) // 2:
            facts.append(fact_of(event.model_copy(update={"seq": seq})).row()[: len(PREVIOUS_FACT_COLUMNS)])
    return rows, facts, Checkpoint(len(rows), prev)


def check_previous_schema_log(store: AuditStore) -> None:
    """What a store opened on ``previous_schema_log`` must do: verify, report, append."""
    report = store.verify()
    assert report.ok and report.rows_checked == len(review_events()), report
    assert store.facts().summary("", "", None) is not None  # type: ignore[attr-defined]
    in_database = build_report(store.facts())
    assert in_database == build_report(list(store.facts()))
    totals = in_database["totals"]
    assert (totals["shown"], totals["sent_as_is"], totals["edited"], totals["pending"]) == (12, 2, 2, 2)
    store.append(mixed(3))
    assert store.verify().ok


def unstored(event: AuditEvent) -> AuditEvent:
    return event.model_copy(update={"seq": None, "prev_hash": "", "hash": ""})


class AuditStoreConformance:
    """Behaviour every audit backend must have. Subclass and override the fixtures."""

    @pytest.fixture
    def open_store(self) -> OpenStore:
        raise NotImplementedError("a backend's test class provides open_store")

    @pytest.fixture
    def tamper(self) -> Tamperer:
        raise NotImplementedError("a backend's test class provides tamper")

    @pytest.fixture
    def store(self, open_store: OpenStore) -> Iterator[AuditStore]:
        with open_store() as store:
            yield store

    # -- appending -----------------------------------------------------------

    def test_append_assigns_seq_and_chains_hashes(self, store: AuditStore) -> None:
        stored = [*store.append([shown(0)]), *store.append([rep_action(1)]), *store.append(mixed(3))]
        assert [e.seq for e in stored] == [1, 2, 3, 4, 5]
        prev = GENESIS_HASH
        for event in stored:
            assert event.prev_hash == prev
            assert event.hash == chain_hash(prev, event.chain_row())
            prev = event.hash
        assert list(store.events()) == stored
        assert store.count() == 5

    def test_append_nothing_is_a_no_op(self, store: AuditStore) -> None:
        assert store.append([]) == []
        assert store.count() == 0
        assert store.verify().ok

    def test_events_round_trip_exactly(self, store: AuditStore) -> None:
        at = datetime(2026, 11, 20, 9, 30, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
        original = AuditEvent(
            type="suggestion_shown",
            at=at,
            actor="王磊",
            conversation_id="wecom:华东精工:42",
            suggestion_set_id="ss-1",
            input_digest="ab" * 32,
            input={"messages": [{"from": "c-7", "text": "方案我们技术这边认可了，但价格比预算高不少。"}]},
            output={
                "suggestions": [{"text": "理解您的预算压力 — «TCO»", "citations": ["a"], "score": 0.1 + 0.2}],
                "competitor": None,
                "nested": {"deep": {"deeper": [1, 2.5, True, False, None, "", "🙂"]}},
            },
            engine="openai",
            model="qwen-plus",
            prompt_versions={"reply": "3", "compliance": "1.2"},
            atoms={"obj-price-too-high-mfg": 3, "comp-auroradw": 1},
            latency_ms=812.25,
        )
        [stored] = store.append([original])
        [read] = store.events()
        assert read == stored
        assert unstored(read) == original
        assert read.at == at and read.at.tzinfo is UTC
        assert read.output is not None and read.output["suggestions"] == original.output["suggestions"]  # type: ignore[index]

    def test_filters(self, store: AuditStore) -> None:
        stored = store.append(mixed(30))
        actions = [e.seq for e in stored if e.type == "rep_action"]
        assert [e.seq for e in store.events(type="rep_action")] == actions
        in_c1 = [e.seq for e in stored if e.conversation_id == "slack:C1"]
        assert [e.seq for e in store.events(conversation_id="slack:C1")] == in_c1
        assert [e.seq for e in store.events(since_seq=25)] == [26, 27, 28, 29, 30]
        assert [e.seq for e in store.events(limit=3)] == [1, 2, 3]
        assert list(store.events(limit=0)) == []
        both = store.events(type="suggestion_shown", conversation_id="slack:C0", since_seq=5)
        expected = [e.seq for e in stored if e.type == "suggestion_shown" and e.conversation_id == "slack:C0"]
        assert [e.seq for e in both] == [seq for seq in expected if (seq or 0) > 5]
        assert list(store.events(type="purge")) == []

    def test_a_group_with_refused_batches_writes_the_others_in_order(self, store: AuditStore) -> None:
        store.append([shown(1), AuditEvent(type="rep_action", suggestion_set_id="ss-1", action="dismissed")])
        again = shown(9)
        store.append([again])
        second = AuditEvent(type="rep_action", suggestion_set_id="ss-1", action="ignored")
        batches = [[shown(2)], [second], [shown(3), shown(4)], [again], [shown(5)]]
        group = [Pending(batch, prepare(batch)) for batch in batches]
        store._write_group(group)  # type: ignore[attr-defined]  # one commit for concurrent presses
        assert [[e.seq for e in p.result or []] for p in group] == [[4], [], [5, 6], [], [7]]
        assert isinstance(group[1].error, ActionRefused) and "already has its final action" in str(
            group[1].error
        )
        assert isinstance(group[3].error, StoreError) and "already in" in str(group[3].error)
        assert store.verify().ok and store.check_facts().ok and store.count() == 7
        assert store.facts().summary("", "", None) is not None  # type: ignore[attr-defined]
        in_database = build_report(store.facts())  # every shown set's dims survived the retry
        assert in_database == build_report(list(store.facts())) and in_database["totals"]["shown"] == 6

    def test_lookups_by_rep_and_conversation_span_the_whole_log(self, store: AuditStore) -> None:
        events = [
            shown(n, actor=f"U{n % 3}", conversation_id=f"slack:C{n % 5}")
            for n in range(2 * LOOKUP_SPAN + 300)
        ]
        for start in range(0, len(events), 500):
            store.append(events[start : start + 500])
        by_rep = [e.seq for e in store.events(actor="U1")]
        assert by_rep == [n + 1 for n in range(len(events)) if n % 3 == 1]
        both = [e.seq for e in store.events(actor="U2", conversation_id="slack:C4", type="suggestion_shown")]
        assert both == [n + 1 for n in range(len(events)) if n % 3 == 2 and n % 5 == 4]
        later = [e.seq for e in store.events(conversation_id="slack:C0", since_seq=LOOKUP_SPAN + 3, limit=7)]
        assert later == [n + 1 for n in range(LOOKUP_SPAN + 3, len(events)) if n % 5 == 0][:7]
        assert next(store.events(actor="nobody"), None) is None
        growing = store.events(actor="U0")
        first = next(growing)
        store.append([shown(10_000, actor="U0")])  # appended while the lookup runs: seen at the end
        assert [first.seq, *(e.seq for e in growing)][-1] == len(events) + 1

    def test_reads_page_through_large_logs(self, store: AuditStore) -> None:
        store.append([AuditEvent(type="feedback", helpful=True) for _ in range(2_345)])
        assert [e.seq for e in store.events()] == list(range(1, 2_346))
        assert [e.seq for e in store.events(since_seq=1_000, limit=1_001)] == list(range(1_001, 2_002))

    def test_duplicate_event_ids_are_refused_and_nothing_is_written(self, store: AuditStore) -> None:
        [first] = store.append([shown(1)])
        with pytest.raises(StoreError, match=first.event_id):
            store.append([shown(2), unstored(first)])
        again = shown(3)
        with pytest.raises(StoreError, match="twice"):
            store.append([again, again])
        assert store.count() == 1
        assert store.verify().ok

    def test_reopening_continues_the_chain(self, open_store: OpenStore) -> None:
        with open_store() as store:
            store.append(mixed(3))
        with open_store() as store:
            [event] = store.append([shown(9)])
            assert event.seq == 4
            assert store.verify().ok

    def test_two_stores_appending_alternately_still_verify(self, open_store: OpenStore) -> None:
        with open_store() as one, open_store() as two:
            for n in range(20):
                (one if n % 2 else two).append(mixed(n % 3 + 1))
            assert [e.seq for e in one.events()] == list(range(1, one.count() + 1))
            assert one.verify().ok and two.verify().ok

    def test_concurrent_appends_from_threads_still_verify(self, open_store: OpenStore) -> None:
        with open_store() as one, open_store() as two:
            errors: list[BaseException] = []

            def work(store: AuditStore) -> None:
                try:
                    for n in range(40):
                        store.append(mixed(n % 4 + 1))
                except BaseException as exc:  # surfaced by the assert below
                    errors.append(exc)

            threads = [threading.Thread(target=work, args=(s,)) for s in (one, two, one)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert errors == []
            assert one.count() == 3 * sum(n % 4 + 1 for n in range(40))
            report = two.verify()
            assert report.ok, report

    def test_closed_store_refuses_work(self, open_store: OpenStore) -> None:
        store = open_store()
        store.close()
        store.close()  # closing twice is fine
        with pytest.raises(StoreError, match="closed"):
            store.append([shown()])
        with pytest.raises(StoreError, match="closed"):
            store.count()

    def test_one_log_line_per_append_without_contents(
        self, store: AuditStore, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG, logger="copilot.audit")
        store.append([rep_action(1, final_text="客户手机号已脱敏 SECRET-TEXT")])
        store.append(mixed(10))
        lines = [r.getMessage() for r in caplog.records if r.name == "copilot.audit"]
        assert len(lines) == 2
        assert all(" ms" in line for line in lines)
        assert not any("SECRET-TEXT" in line or "slack:C" in line or "rep-" in line for line in lines)

    # -- reporting -----------------------------------------------------------

    def test_report_collapsed_by_the_database_equals_the_report_in_python(self, store: AuditStore) -> None:
        store.append(review_events())
        at = datetime(2026, 11, 1, 9, tzinfo=UTC)
        windows: list[dict[str, Any]] = [
            {},
            {"since": at + timedelta(hours=5)},
            {"until": at + timedelta(hours=9)},
            {"reps": ["rep-1", "rep-2"]},
            {"reps": []},
        ]
        assert store.facts().summary("", "", None) is not None  # type: ignore[attr-defined]
        for window in windows:
            in_database = build_report(store.facts(), **window)
            in_python = build_report(list(store.facts()), **window)
            assert in_database == in_python, window
        full = build_report(store.facts())
        assert full["totals"]["shown"] == 12 and full["totals"]["pending"] == 2
        assert full["totals"]["helpful"] == 2 and full["totals"]["not_helpful"] == 1

    # -- verifying -----------------------------------------------------------

    def test_verify_ok_on_an_intact_log_of_1000_events(self, store: AuditStore) -> None:
        stored = fill(store, 1_000, batch=37)
        report = store.verify()
        assert report.ok, report
        assert (report.rows_checked, report.head_seq, report.head_hash) == (1_000, 1_000, stored[-1].hash)
        assert report.first_bad_seq is None and report.reason == ""
        report.raise_for_failure()

    def test_verify_ok_on_an_empty_log(self, store: AuditStore) -> None:
        report = store.verify()
        assert report.ok and report.rows_checked == 0 and report.head_hash == GENESIS_HASH

    def test_edited_row_is_found(self, store: AuditStore, tamper: Tamperer) -> None:
        fill(store, 9)
        tamper.edit_body(5, final_text="edited afterwards")
        report = store.verify()
        assert (report.ok, report.first_bad_seq, report.reason) == (False, 5, "hash mismatch: row edited")
        with pytest.raises(AuditIntegrityError, match="hash mismatch") as caught:
            report.raise_for_failure()
        assert caught.value.row == 5

    def test_edited_and_rehashed_row_breaks_the_next_link(self, store: AuditStore, tamper: Tamperer) -> None:
        fill(store, 9)
        tamper.edit_body(5, rehash=True, final_text="rewritten, hash and all")
        report = store.verify()
        assert (report.ok, report.first_bad_seq) == (False, 6)
        assert report.reason == "prev_hash mismatch: row deleted or reordered"

    def test_rewritten_and_rechained_log_is_found_by_the_checkpoint(
        self, store: AuditStore, tamper: Tamperer
    ) -> None:
        fill(store, 9)
        tamper.edit_body(5, final_text="rewritten, with every later hash redone")
        tamper.rechain(5)
        report = store.verify()
        assert (report.ok, report.first_bad_seq, report.rows_checked) == (False, 9, 9)
        assert report.reason == "head checkpoint mismatch: rows rewritten up to the checkpoint"

    def test_deleted_middle_row_is_found(self, store: AuditStore, tamper: Tamperer) -> None:
        fill(store, 9)
        tamper.delete(5)
        report = store.verify()
        assert (report.ok, report.first_bad_seq) == (False, 5)
        assert report.reason == "sequence gap at 5: row deleted"
        assert report.head_seq == 4

    def test_deleted_first_row_is_found(self, store: AuditStore, tamper: Tamperer) -> None:
        fill(store, 3)
        tamper.delete(1)
        report = store.verify()
        assert (report.ok, report.first_bad_seq) == (False, 1)
        assert report.reason == "sequence gap at 1: row deleted"

    def test_reordered_rows_are_found(self, store: AuditStore, tamper: Tamperer) -> None:
        fill(store, 9)
        tamper.swap(3, 6)
        report = store.verify()
        assert (report.ok, report.first_bad_seq) == (False, 3)
        assert report.reason == "prev_hash mismatch: row deleted or reordered"

    def test_deleted_newest_rows_are_found(self, store: AuditStore, tamper: Tamperer) -> None:
        fill(store, 9)
        tamper.delete(8, 9)
        report = store.verify()
        assert (report.ok, report.first_bad_seq) == (False, 8)
        assert report.reason == "head checkpoint mismatch: newest rows deleted"

    def test_emptied_log_is_found_by_the_checkpoint(self, store: AuditStore, tamper: Tamperer) -> None:
        fill(store, 3)
        tamper.delete(1, 2, 3)
        report = store.verify()
        assert (report.ok, report.first_bad_seq, report.rows_checked) == (False, 1, 0)
        assert report.reason == "head checkpoint mismatch: newest rows deleted"

    def test_missing_checkpoint_is_reported(self, store: AuditStore, tamper: Tamperer) -> None:
        fill(store, 3)
        tamper.remove_checkpoint()
        report = store.verify()
        assert (report.ok, report.reason, report.first_bad_seq) == (False, "head checkpoint missing", None)

    def test_missing_checkpoint_of_an_empty_log_is_fine(self, store: AuditStore, tamper: Tamperer) -> None:
        tamper.remove_checkpoint()
        assert store.verify().ok

    def test_plain_update_and_delete_are_refused(self, store: AuditStore, tamper: Tamperer) -> None:
        fill(store, 5)
        assert "append-only" in (tamper.attempt_update(3) or "")
        assert "append-only" in (tamper.attempt_delete(3) or "")
        assert store.count() == 5
        assert store.verify().ok

    def test_lookups_follow_the_facts_and_check_facts_names_an_edited_one(
        self, store: AuditStore, tamper: Tamperer
    ) -> None:
        fill(store, 9)
        assert store.check_facts().ok
        tamper.raw_edit(("UPDATE audit_facts SET conversation_id = 'slack:elsewhere' WHERE seq = 4", ()))
        assert [e.seq for e in store.events(conversation_id="slack:elsewhere")] == [4]
        assert store.verify().ok  # the hashed rows are intact: only what finds them was changed
        report = store.check_facts()
        assert (report.ok, report.first_bad_seq, report.damage) == (False, 4, "edited")
        assert "facts mismatch: seq 4" in report.reason

    def test_check_facts_names_a_missing_facts_row_and_one_without_its_row(
        self, store: AuditStore, tamper: Tamperer
    ) -> None:
        fill(store, 6)
        tamper.raw_edit(("DELETE FROM audit_facts WHERE seq = 5", ()))
        assert (store.check_facts().first_bad_seq, store.count()) == (5, 6)
        tamper.raw_edit(("DELETE FROM audit_facts", ()))
        tamper.raw_edit(
            (
                "INSERT INTO audit_facts (seq, type, at, actor, set_id, atom_id, engine, fallback, prompts,"
                " competitor, missing_roles, citations, event_id, conversation_id)"
                " VALUES (99, 'rep_action', '', '', 'ss-1', '', '', 0, '', '', '[]', '[]', 'x', '')",
                (),
            )
        )
        report = store.check_facts()
        assert report.first_bad_seq == 1 and not report.ok

    def test_unreadable_row_raises_on_read(self, store: AuditStore, tamper: Tamperer) -> None:
        fill(store, 3)
        tamper.edit_body(2, type="not-a-type")
        with pytest.raises(AuditIntegrityError, match="seq 2") as caught:
            list(store.events())
        assert caught.value.row == 2


class SQLiteTamperer:
    """What someone with write access to the SQLite file can do: everything.

    Each edit drops the append-only triggers, edits, and puts them back, in one
    transaction, as a careful attacker would.
    """

    def __init__(self, store: SQLiteAuditStore) -> None:
        self.path = store.path
        self.checkpoint_path = store.checkpoint_path

    def raw_edit(self, *statements: tuple[str, tuple[Any, ...]]) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            triggers = conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'"
            ).fetchall()
            for name, _ in triggers:
                conn.execute(f"DROP TRIGGER {name}")
            for sql, params in statements:
                conn.execute(sql, params)
            for _, sql in triggers:
                conn.execute(sql)
            conn.execute("COMMIT")
        finally:
            conn.close()

    def _row(self, seq: int) -> tuple[Any, ...]:
        conn = sqlite3.connect(self.path)
        try:
            query = "SELECT seq, body, hash FROM audit_events WHERE seq = ?"
            row: tuple[Any, ...] = conn.execute(query, (seq,)).fetchone()
            return row
        finally:
            conn.close()

    def edit_body(self, seq: int, *, rehash: bool = False, **changes: Any) -> None:
        body = {**json.loads(self._row(seq)[1]), **changes}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256((body["prev_hash"] + text).encode()).hexdigest()
        if rehash:
            self.raw_edit(("UPDATE audit_events SET body = ?, hash = ? WHERE seq = ?", (text, digest, seq)))
        else:
            self.raw_edit(("UPDATE audit_events SET body = ? WHERE seq = ?", (text, seq)))

    def rechain(self, from_seq: int) -> None:
        """Rewrite prev_hash and hash of every row from ``from_seq`` on: a valid chain again."""
        conn = sqlite3.connect(self.path)
        try:
            query = "SELECT seq, body FROM audit_events WHERE seq >= ? ORDER BY seq"
            rows = conn.execute(query, (from_seq,)).fetchall()
            (prev,) = conn.execute("SELECT hash FROM audit_events WHERE seq = ?", (from_seq - 1,)).fetchone()
        finally:
            conn.close()
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
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute(sql, (seq,))
        except sqlite3.DatabaseError as exc:
            return str(exc)
        finally:
            conn.close()
        return None

    def attempt_update(self, seq: int) -> str | None:
        return self._attempt("UPDATE audit_events SET hash = upper(hash) WHERE seq = ?", seq)

    def attempt_delete(self, seq: int) -> str | None:
        return self._attempt("DELETE FROM audit_events WHERE seq = ?", seq)


class TestSQLiteAuditStore(AuditStoreConformance):
    @pytest.fixture
    def db_path(self, tmp_path: Path) -> Path:
        return tmp_path / "audit.sqlite3"

    @pytest.fixture
    def open_store(self, db_path: Path) -> Iterator[OpenStore]:
        opened: list[AuditStore] = []

        def factory() -> AuditStore:
            opened.append(SQLiteAuditStore(db_path))
            return opened[-1]

        yield factory
        for store in opened:
            store.close()

    @pytest.fixture
    def tamper(self, store: SQLiteAuditStore) -> SQLiteTamperer:
        return SQLiteTamperer(store)

    def _migrations_table(self, db_path: Path) -> list[tuple[str, str]]:
        conn = sqlite3.connect(db_path)
        try:
            return conn.execute("SELECT name, applied_at FROM _migrations ORDER BY rowid").fetchall()
        finally:
            conn.close()

    def test_migrations_run_once_from_a_blank_database(self, db_path: Path) -> None:
        SQLiteAuditStore(db_path).close()
        first = self._migrations_table(db_path)
        assert [name for name, _ in first] == [m.name for m in MIGRATIONS]
        SQLiteAuditStore(db_path).close()
        assert self._migrations_table(db_path) == first
        conn = sqlite3.connect(db_path, isolation_level=None)
        try:
            assert apply_migrations(conn) == []
        finally:
            conn.close()

    def test_migrations_from_the_previous_schema(self, db_path: Path) -> None:
        conn = sqlite3.connect(db_path, isolation_level=None)
        try:
            assert apply_migrations(conn, MIGRATIONS[:-1]) == [m.name for m in MIGRATIONS[:-1]]
        finally:
            conn.close()
        with SQLiteAuditStore(db_path) as store:
            store.append(mixed(3))
            assert "append-only" in (SQLiteTamperer(store).attempt_delete(1) or "")
        assert [name for name, _ in self._migrations_table(db_path)] == [m.name for m in MIGRATIONS]

    def test_a_log_written_under_the_previous_schema_verifies_and_reports(self, db_path: Path) -> None:
        rows, facts, head = previous_schema_log()
        conn = sqlite3.connect(db_path, isolation_level=None)
        try:
            apply_migrations(conn, [m for m in MIGRATIONS if m.name < "m005"])
            conn.executemany("INSERT INTO audit_events (seq, body, hash) VALUES (?, ?, ?)", rows)
            marks = ", ".join("?" * len(PREVIOUS_FACT_COLUMNS))
            columns = ", ".join(PREVIOUS_FACT_COLUMNS)
            conn.executemany(f"INSERT INTO audit_facts ({columns}) VALUES ({marks})", facts)
        finally:
            conn.close()
        write_checkpoint(db_path.with_name(db_path.name + ".head"), head)
        with SQLiteAuditStore(db_path, read_only=True) as old:  # not migrated: reports add up in Python
            assert old.verify().ok and build_report(old.facts())["totals"]["shown"] == 5
        with SQLiteAuditStore(db_path) as store:
            check_previous_schema_log(store)

    def test_database_is_in_wal_mode(self, store: SQLiteAuditStore) -> None:
        conn = sqlite3.connect(store.path)
        try:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        finally:
            conn.close()

    def test_generated_columns_follow_the_hashed_body_and_check_facts_sees_an_edit(
        self, store: SQLiteAuditStore, tamper: SQLiteTamperer
    ) -> None:
        fill(store, 9)
        with pytest.raises(sqlite3.OperationalError, match="generated column"):
            tamper.raw_edit(("UPDATE audit_events SET conversation_id = 'slack:elsewhere' WHERE seq = 4", ()))
        tamper.edit_body(4, conversation_id="slack:elsewhere")
        report = store.verify()
        assert (report.ok, report.first_bad_seq, report.reason) == (False, 4, "hash mismatch: row edited")
        assert store.check_facts().first_bad_seq == 4

    def test_lookups_use_the_facts_indexes(self, store: SQLiteAuditStore) -> None:
        fill(store, 20)
        conn = sqlite3.connect(store.path)
        try:
            indexes = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
            plan = " ".join(
                str(row[-1])
                for row in conn.execute(
                    "EXPLAIN QUERY PLAN SELECT e.body FROM audit_facts f JOIN audit_events e ON e.seq = f.seq"
                    f" WHERE f.seq / {LOOKUP_SPAN} = 0 AND f.seq > 0 AND f.conversation_id = 'x'"
                    " ORDER BY f.seq LIMIT 5"
                )
            )
        finally:
            conn.close()
        assert not {i for i in indexes if i.startswith("audit_events_")}  # an append parses no JSON
        assert "audit_facts_conversation" in plan and "TEMP B-TREE" not in plan  # in index order

    def test_checkpoint_file_holds_the_head(self, store: SQLiteAuditStore) -> None:
        stored = fill(store, 7)
        assert json.loads(store.checkpoint_path.read_text()) == {"seq": 7, "hash": stored[-1].hash}
        leftovers = [p.name for p in store.path.parent.iterdir() if p.name.endswith(".tmp")]
        assert leftovers == []

    def test_checkpoint_is_updated_in_place_and_follows_a_replaced_file(
        self, store: SQLiteAuditStore
    ) -> None:
        fill(store, 3)
        inode = store.checkpoint_path.stat().st_ino
        stored = fill(store, 4)
        assert store.checkpoint_path.stat().st_ino == inode  # one record rewritten, no new file
        assert store.checkpoint_path.stat().st_size == 256
        assert json.loads(store.checkpoint_path.read_text()) == {"seq": 7, "hash": stored[-1].hash}
        moved = store.checkpoint_path.with_name("moved.head")
        store.checkpoint_path.rename(moved)  # e.g. restored from a backup: a new file at the path
        write_checkpoint(store.checkpoint_path, Checkpoint(7, stored[-1].hash))
        [last] = store.append([shown(99)])
        assert json.loads(store.checkpoint_path.read_text()) == {"seq": last.seq, "hash": last.hash}
        assert json.loads(moved.read_text())["seq"] == 7  # the old file was left alone
        assert store.verify().ok

    def test_unreadable_checkpoint_is_reported(self, store: SQLiteAuditStore) -> None:
        fill(store, 2)
        store.checkpoint_path.write_text("not json")
        report = store.verify()
        assert not report.ok and "unreadable" in report.reason

    def test_locked_database_raises_store_error_and_writes_nothing(self, db_path: Path) -> None:
        with SQLiteAuditStore(db_path, busy_timeout_s=0.05) as store:
            store.append([shown(1)])
            blocker = sqlite3.connect(db_path, isolation_level=None)
            try:
                blocker.execute("BEGIN IMMEDIATE")
                with pytest.raises(StoreError, match="Nothing was written"):
                    store.append(mixed(3))
            finally:
                blocker.close()
            assert store.count() == 1
            [event] = store.append([shown(2)])
            assert event.seq == 2 and store.verify().ok

    def test_full_disk_raises_store_error_and_writes_nothing(self, store: SQLiteAuditStore) -> None:
        store.append([shown(1)])
        before = store.checkpoint_path.read_text()
        # Fault injection on the real connection: cap the file at its current size.
        (pages,) = store._conn.execute("PRAGMA page_count").fetchone()  # type: ignore[union-attr]
        store._conn.execute(f"PRAGMA max_page_count = {pages}")  # type: ignore[union-attr]
        big = [shown(n, input={"text": "长" * 20_000}) for n in range(5)]
        with pytest.raises(StoreError, match="free disk space under COPILOT_HOME"):
            store.append(big)
        assert store.count() == 1
        assert store.checkpoint_path.read_text() == before
        assert store.verify().ok


# -- the event model, the hash rule and the package surface ----------------------


def test_event_model_is_strict() -> None:
    with pytest.raises(ValidationError, match="extra"):
        AuditEvent(type="feedback", helpful=True, surprise=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="timezone"):
        AuditEvent(type="feedback", helpful=True, at=datetime(2026, 1, 1))
    with pytest.raises(ValidationError, match="needs an action"):
        AuditEvent(type="rep_action")
    with pytest.raises(ValidationError, match="only for rep_action"):
        AuditEvent(type="suggestion_shown", action="edited")
    with pytest.raises(ValidationError, match="needs helpful"):
        AuditEvent(type="feedback")
    with pytest.raises(ValidationError, match="not JSON compliant"):
        AuditEvent(type="suggestion_shown", output={"score": float("nan")})
    with pytest.raises(ValidationError, match="valid Unicode"):
        AuditEvent(type="rep_action", action="edited", final_text="broken \ud800 surrogate")
    with pytest.raises(ValidationError, match="input_digest"):
        AuditEvent(type="suggestion_shown", input_digest="not-a-digest")


def test_hash_rule_can_be_recomputed_with_hashlib_alone() -> None:
    at = datetime(2026, 11, 20, 1, 30, tzinfo=UTC)
    event = AuditEvent(event_id="e1", seq=1, at=at, type="feedback", helpful=True, actor="王磊")
    row = event.chain_row()
    assert "hash" not in row and row["at"] == "2026-11-20T01:30:00.000000+00:00"
    text = canonical_json(row)
    assert text.startswith('{"action":null,"actor":"王磊","at":"2026-11-20T01:30:00.000000+00:00",')
    expected = hashlib.sha256((GENESIS_HASH + text).encode("utf-8")).hexdigest()
    assert chain_hash(GENESIS_HASH, row) == expected


def test_open_audit_store_chooses_the_backend(tmp_path: Path) -> None:
    with open_audit_store(tmp_path / "home" / "audit.sqlite3") as store:
        assert isinstance(store, SQLiteAuditStore)
        store.append([shown()])
    with open_audit_store(f"sqlite:///{tmp_path / 'home' / 'audit.sqlite3'}") as store:
        assert store.count() == 1
    with pytest.raises(ConfigError, match="unsupported"):
        open_audit_store("mysql://db/copilot")
