"""show, export, sweep and purge: on SQLite through the CLI, and purge on PostgreSQL too."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from test_audit_postgres import pg_server, pg_url  # noqa: F401  (fixtures)

from audit import (
    GENESIS_HASH,
    AuditEvent,
    AuditStore,
    append_action,
    append_feedback,
    canonical_json,
    chain_hash,
    diff_ops,
    open_audit_store,
    sweep_ignored,
)
from copilot import Settings
from copilot.cli import main

OLD = datetime(2024, 6, 1, tzinfo=UTC)


def shown(set_id: str, at: datetime, rep: str = "U1") -> AuditEvent:
    suggestions = [
        {"text": t, "citations": ["obj-a"], "legal_basis": ["《广告法》第九条"]}
        for t in ("先付三成，余款验收后付。", "Let us book a call.")
    ]
    return AuditEvent(
        type="suggestion_shown",
        at=at,
        actor=rep,
        conversation_id="slack:C1",
        suggestion_set_id=set_id,
        input={"messages": [{"from": "c-7", "text": "价格太高了 \x1b[31m[bold]x[/bold]"}]},
        output={
            "suggestions": suggestions,
            "compliance": [
                {
                    "target": "suggestion[1]",
                    "rule": "ad-law-superlative",
                    "basis": "《广告法》第九条",
                    "action": "repaired",
                }
            ],
        },
        engine="grounded",
        atoms={"obj-a": 1},
        latency_ms=12.5,
    )


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def store() -> Iterator[AuditStore]:
    with open_audit_store(Settings().audit_path) as opened:
        now = datetime.now(UTC)
        opened.append([shown("ss-old", OLD), shown("ss-1", now - timedelta(hours=30)), shown("ss-2", now)])
        yield opened


def test_show_tells_one_sets_story_with_a_diff(store: AuditStore) -> None:
    append_action(store, "ss-1", "edited", rep="U1", index=0, final_text="先付四成，余款验收后付。")
    append_feedback(store, "ss-1", True, rep="U1", index=0, reason="好用")
    result = run("audit", "show", "ss-1")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "shown" in out and "[0] 先付三成" in out and "cites obj-a" in out and "《广告法》第九条" in out
    assert "compliance suggestion[1]: ad-law-superlative repaired" in out
    assert "edited" in out and "edit distance 1" in out and "[-三-]" in out and "{+四+}" in out
    assert "feedback suggestion 0: helpful 好用" in out
    assert "\x1b" not in out  # customer text stays inert
    events = json.loads(run("audit", "show", "ss-1", "--json").stdout)
    assert [e["type"] for e in events] == ["suggestion_shown", "rep_action", "feedback"]
    assert run("audit", "show", "ss-none").exit_code == 2


def test_export_jsonl_is_reverifiable_and_csv_is_flat(store: AuditStore, tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    assert run("audit", "export", "--format", "jsonl", "--out", str(out)).exit_code == 0
    prev = GENESIS_HASH
    for line in out.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        digest = row.pop("hash")
        assert row["prev_hash"] == prev and chain_hash(prev, row) == digest
        assert canonical_json(row)  # what anyone can recompute with hashlib
        prev = digest
    table = list(csv.DictReader(io.StringIO(run("audit", "export", "--format", "csv").stdout)))
    assert [r["suggestion_set_id"] for r in table] == ["ss-old", "ss-1", "ss-2"]
    recent = run("audit", "export", "--format", "csv", "--since", "2025-01-01").stdout
    assert "ss-old" not in recent and "ss-1" in recent


def test_sweep_marks_only_sets_past_the_window(store: AuditStore) -> None:
    append_action(store, "ss-old", "dismissed", rep="U1")
    result = json.loads(run("audit", "sweep", "--json").stdout)
    assert result == {"ignored": ["ss-1"], "window_hours": 24.0}
    [ignored] = [e for e in store.events(type="rep_action") if e.action == "ignored"]
    assert ignored.suggestion_set_id == "ss-1" and ignored.actor == "U1" and "24 h" in ignored.reason
    assert sweep_ignored(store, timedelta(hours=24)) == []  # once only
    assert [e.suggestion_set_id for e in sweep_ignored(store, timedelta(seconds=0.001))] == ["ss-2"]
    assert store.verify().ok


def _purge_and_check(store: AuditStore) -> None:
    event = store.purge(before=datetime(2025, 1, 1, tzinfo=UTC), actor="dpo@example.com")
    assert event.type == "purge" and event.output is not None
    assert event.output["first_seq"] == 1 and event.output["through_seq"] == 1
    assert "dpo@example.com" not in event.model_dump_json()  # the actor is redacted like any text
    assert [e.suggestion_set_id for e in store.events()][:2] == ["ss-1", "ss-2"]
    report = store.verify()
    assert report.ok, report
    store.append([shown("ss-3", datetime.now(UTC))])
    assert store.verify().ok
    with pytest.raises(Exception, match="no audit events before"):
        store.purge(before=datetime(2025, 1, 1, tzinfo=UTC), actor="dpo")


def test_purge_is_logged_and_the_rest_still_verifies(store: AuditStore) -> None:
    _purge_and_check(store)
    # Deleting the next row by hand is still caught: the anchor is in the chain.
    conn = sqlite3.connect(Settings().audit_path)
    conn.execute("DROP TRIGGER audit_events_no_delete")
    conn.execute("DELETE FROM audit_events WHERE seq = 2")
    conn.commit()
    conn.close()
    report = store.verify()
    assert not report.ok and report.first_bad_seq == 2 and report.damage == "deleted"


def test_purge_through_the_cli_asks_first(store: AuditStore) -> None:
    refused = CliRunner().invoke(main, ["audit", "purge", "--before", "2025-01-01"], input="n\n")
    assert refused.exit_code == 2 and store.count() == 3
    done = run("audit", "purge", "--before", "2025-01-01", "--yes", "--json")
    assert done.exit_code == 0 and json.loads(done.stdout)["type"] == "purge"
    assert run("audit", "verify").exit_code == 0


def test_purge_on_postgres(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    with open_audit_store(pg_url, home=tmp_path) as opened:
        now = datetime.now(UTC)
        opened.append([shown("ss-old", OLD), shown("ss-1", now - timedelta(hours=30)), shown("ss-2", now)])
        _purge_and_check(opened)


def test_diff_ops_compare_words_in_english_and_characters_in_chinese() -> None:
    assert diff_ops("先付三成，余款验收后付。", "先付四成，余款验收后付。") == [
        ("equal", "先付"),
        ("removed", "三"),
        ("added", "四"),
        ("equal", "成，余款验收后付。"),
    ]
    english = diff_ops("Let us book a call today", "Let us book a meeting today")
    assert [op for op, _ in english] == ["equal", "removed", "added", "equal"]
    assert "".join(text for op, text in english if op != "removed") == "Let us book a meeting today"
    assert diff_ops("same", "same") == [("equal", "same")]
