"""Issue 6, items 1-3: a log that cannot be quietly shortened, clear checkpoint errors,
read-only verification, private state files. Plus exported (signed) checkpoints."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import AuditEvent, SQLiteAuditStore, open_audit_store
from copilot import Settings
from copilot.cli import main
from copilot.errors import ActionRefused, AuditIntegrityError


def event(n: int) -> AuditEvent:
    return AuditEvent(type="feedback", actor="U1", suggestion_set_id=f"ss-{n}", helpful=True)


def raw_delete(path: Path, *seqs: int) -> None:
    """What an attacker with file access does: drop the triggers, delete rows."""
    conn = sqlite3.connect(path)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f'DROP TRIGGER "{name}"')
    conn.executemany("DELETE FROM audit_events WHERE seq = ?", [(s,) for s in seqs])
    conn.commit()
    conn.close()


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def db() -> Path:
    path = Settings().audit_path
    with open_audit_store(path) as store:
        for n in range(5):
            store.append([event(n)])
    return path


# -- 1. the tail must match the checkpoint before any append --------------------------


def test_deleted_newest_rows_stop_appends_loudly(db: Path, caplog: pytest.LogCaptureFixture) -> None:
    raw_delete(db, 4, 5)
    with SQLiteAuditStore(db) as store:
        with pytest.raises(AuditIntegrityError, match="newest rows deleted") as caught:
            store.append([event(9)])
        assert "copilot audit recover" in str(caught.value)
        assert store.count() == 3  # nothing new logged
        assert not store.verify().ok  # and the next append did not paper over it
    assert any(r.levelno == logging.CRITICAL and "ALERT" in r.getMessage() for r in caplog.records)


def test_refusal_is_exit_1_from_the_cli(db: Path) -> None:
    raw_delete(db, 5)
    result = run("audit", "recover", "--reason", "")
    assert result.exit_code == 2
    with open_audit_store(db) as store, pytest.raises(AuditIntegrityError):
        store.append([event(9)])
    verify = run("audit", "verify", "--json")
    assert verify.exit_code == 1
    assert json.loads(verify.stdout)["damage"] == "truncated"


def test_recover_records_the_incident_and_appends_resume(db: Path) -> None:
    raw_delete(db, 5)
    result = run("audit", "recover", "--reason", "restored from backup, ticket OPS-42", "--json")
    assert result.exit_code == 0, result.output
    incident = json.loads(result.stdout)
    assert incident["type"] == "incident" and incident["seq"] == 5
    assert incident["output"]["kind"] == "deleted" and incident["output"]["checkpoint"]["seq"] == 5
    assert "OPS-42" in incident["reason"]
    with open_audit_store(db) as store:
        [appended] = store.append([event(9)])
        assert appended.seq == 6 and store.verify().ok
    again = run("audit", "recover", "--reason", "again")
    assert again.exit_code == 2 and "nothing to recover" in again.output


@pytest.mark.parametrize(
    ("tamper", "kind"),
    [
        (lambda p: p.write_text('{"seq": 2, "hash": "' + "0" * 64 + '"}'), "differs"),
        (lambda p: p.write_text('{"seq": 9, "hash": "' + "0" * 64 + '"}'), "newest rows deleted"),
        (lambda p: p.unlink(), "checkpoint is missing"),
        (lambda p: p.write_text("garbage"), "unreadable"),
    ],
)
def test_edited_or_deleted_checkpoint_stops_appends(db: Path, tamper: object, kind: str) -> None:
    tamper(db.with_name(db.name + ".head"))  # type: ignore[operator]
    with SQLiteAuditStore(db) as store:
        with pytest.raises(AuditIntegrityError, match=kind):
            store.append([event(9)])
        assert store.count() == 5


def test_stray_tmp_from_an_interrupted_write_still_witnesses_the_newest_row(db: Path) -> None:
    head = db.with_name(db.name + ".head")
    newest = json.loads(head.read_text())
    with SQLiteAuditStore(db) as store:
        [row4] = [e for e in store.events() if e.seq == 4]
    # The write of seq 5 committed and fsynced its temporary file, then died before the rename.
    head.write_text(json.dumps({"seq": 4, "hash": row4.hash}))
    db.with_name(f"{db.name}.head.k3j9x.tmp").write_text(json.dumps(newest))
    db.with_name(f"{db.name}.head.torn1.tmp").write_text('{"seq": 9')  # torn before its fsync: ignored
    raw_delete(db, 5)
    with SQLiteAuditStore(db) as store:
        assert not store.verify().ok
        with pytest.raises(AuditIntegrityError, match="newest rows deleted"):
            store.append([event(9)])


def test_stray_tmp_matching_the_log_is_promoted_and_cleaned(db: Path) -> None:
    head = db.with_name(db.name + ".head")
    newest = json.loads(head.read_text())
    with SQLiteAuditStore(db) as store:
        [row4] = [e for e in store.events() if e.seq == 4]
        head.write_text(json.dumps({"seq": 4, "hash": row4.hash}))
        leftover = db.with_name(f"{db.name}.head.k3j9x.tmp")
        leftover.write_text(json.dumps(newest))
        assert store.verify().ok
        store.append([event(9)])
        assert not leftover.exists() and json.loads(head.read_text())["seq"] == 6


def test_log_ahead_of_its_checkpoint_is_accepted_and_caught_up(db: Path) -> None:
    head = db.with_name(db.name + ".head")
    with SQLiteAuditStore(db) as store:
        [row3] = [e for e in store.events() if e.seq == 3]
        head.write_text(json.dumps({"seq": 3, "hash": row3.hash}))  # crashed before the tmp was fsynced
        [appended] = store.append([event(9)])
        assert appended.seq == 6 and json.loads(head.read_text())["seq"] == 6


def test_one_refused_batch_does_not_fail_the_others_in_its_group(tmp_path: Path) -> None:
    with SQLiteAuditStore(tmp_path / "a.sqlite3") as store:
        first = event(1)
        store.append([first])
        with pytest.raises(Exception, match="already in"):
            store.append([first])
        action = AuditEvent(type="rep_action", suggestion_set_id="ss-1", action="dismissed")
        store.append([action])
        with pytest.raises(ActionRefused):
            store.append([AuditEvent(type="rep_action", suggestion_set_id="ss-1", action="ignored")])
        assert store.count() == 2 and store.verify().ok


# -- 2. clear errors for a bad checkpoint path; verify on a read-only copy --------------


def test_checkpoint_path_that_is_a_directory_is_a_clear_error(db: Path) -> None:
    head = db.with_name(db.name + ".head")
    head.unlink()
    head.mkdir()
    with SQLiteAuditStore(db) as store:
        report = store.verify()
        assert not report.ok and "is a directory" in report.reason and report.damage == "unreadable"
        with pytest.raises(AuditIntegrityError, match="is a directory"):
            store.append([event(9)])
    result = run("audit", "verify")
    assert result.exit_code == 1 and "is a directory" in result.output


def test_checkpoint_that_is_not_text_is_a_clear_error(db: Path) -> None:
    db.with_name(db.name + ".head").write_bytes(b"\xff\xfe\x00")
    result = run("audit", "verify")
    assert result.exit_code == 1 and "cannot be read" in result.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_checkpoint_is_a_clear_error(db: Path) -> None:
    db.with_name(db.name + ".head").chmod(0)
    result = run("audit", "verify")
    assert result.exit_code == 1 and "cannot be read" in result.output


def test_verify_reads_a_copy_without_changing_it(db: Path, tmp_path: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    copy = tmp_path / "copy"
    copy.mkdir()
    for suffix in ("", ".head"):
        shutil.copy(db.with_name(db.name + suffix), copy / (db.name + suffix))
    # An -shm that cannot be created (as on read-only media) forces SQLite's immutable mode.
    (copy / f"{db.name}-shm").mkdir()
    files = [copy / db.name, copy / f"{db.name}.head"]
    before = [p.read_bytes() for p in files]
    with SQLiteAuditStore(copy / db.name, read_only=True) as store:
        report = store.verify()
        assert report.ok and report.rows_checked == 5
        with pytest.raises(Exception, match="read-only"):
            store.append([event(9)])
    assert [p.read_bytes() for p in files] == before


# -- 3. private state ------------------------------------------------------------------


def test_state_files_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        home = tmp_path / "fresh-home"
        result = CliRunner(env={"COPILOT_HOME": str(home)}).invoke(
            main, ["audit", "recover", "--reason", "x"]
        )
        assert result.exit_code == 2  # nothing to recover, but the log now exists
    finally:
        os.umask(old)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    with SQLiteAuditStore(home / "audit.sqlite3") as store:
        store.append([event(1)])
        names = ["audit.sqlite3", "audit.sqlite3-wal", "audit.sqlite3-shm", "audit.sqlite3.head"]
        for name in [*names, "audit.sqlite3.lock"]:
            assert stat.S_IMODE((home / name).stat().st_mode) == 0o600, name


# -- exported checkpoints ------------------------------------------------------------


def test_exported_checkpoint_catches_truncation_with_the_head_file(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes_raw().hex()
    monkeypatch.setenv("COPILOT_AUDIT_SIGNING_KEY", seed)
    out = tmp_path / "cp.json"
    assert run("audit", "checkpoint", "--out", str(out)).exit_code == 0
    document = json.loads(out.read_text())
    assert document["seq"] == 5 and document["count"] == 5 and document["signature"]["algorithm"] == "ed25519"
    assert run("audit", "verify", "--checkpoint", str(out)).exit_code == 0
    # The attacker deletes the newest rows and rewrites the local head file to match.
    raw_delete(db, 5)
    with SQLiteAuditStore(db) as store:
        [row4] = [e for e in store.events() if e.seq == 4]
    db.with_name(db.name + ".head").write_text(json.dumps({"seq": 4, "hash": row4.hash}))
    assert run("audit", "verify").exit_code == 0  # the machine alone cannot tell
    caught = json.loads(run("audit", "verify", "--checkpoint", str(out), "--json").stdout)
    assert not caught["ok"] and caught["first_bad_seq"] == 5 and caught["damage"] == "truncated"
    assert "checkpoint cp.json" in caught["reason"]
    # A forged checkpoint does not verify; another key's signature neither.
    document["seq"] = 4
    out.write_text(json.dumps(document))
    forged = run("audit", "verify", "--checkpoint", str(out))
    assert forged.exit_code == 1 and "signature does not match" in forged.output
    assert run("audit", "verify", "--checkpoint", str(tmp_path)).exit_code == 2


# -- verifying a large log in parallel --------------------------------------------------


def test_parallel_verify_agrees_with_the_ordered_walk(tmp_path: Path) -> None:
    path = tmp_path / "big.sqlite3"
    with SQLiteAuditStore(path) as store:
        store.append([event(n) for n in range(30)])
        report = store.verify(workers=3, min_rows=10)
        assert report == store.verify(workers=1)
        assert report.ok and report.rows_checked == 30 and report.head_seq == 30
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER audit_events_no_update")
    conn.execute("UPDATE audit_events SET body = replace(body, 'ss-17', 'ss-71') WHERE seq = 18")
    conn.commit()
    conn.close()
    with SQLiteAuditStore(path) as store:
        bad = store.verify(workers=3, min_rows=10)
        assert (bad.ok, bad.first_bad_seq, bad.damage) == (False, 18, "edited")


def test_an_edit_of_the_head_between_appends_is_seen_though_the_store_remembers_it(tmp_path: Path) -> None:
    """The store re-reads its head checkpoint only when the file or its folder changed: a
    rewrite in place, of the same size, from another process still counts."""
    with SQLiteAuditStore(tmp_path / "a.sqlite3") as store:
        stored = store.append([event(n) for n in range(4)])
        head = store.checkpoint_path
        record = head.read_bytes()
        forged = record.replace(stored[-1].hash.encode(), stored[1].hash.encode())
        assert len(forged) == len(record) and forged != record
        with head.open("r+b") as out:  # in place: same inode, same size
            out.write(forged)
        with pytest.raises(AuditIntegrityError, match="refuses new events"):
            store.append([event(9)])
        head.write_bytes(record)
        leftover = head.with_name(head.name + ".x1.tmp")  # an interrupted write's newer checkpoint
        leftover.write_text(json.dumps({"seq": 9, "hash": "f" * 64}))
        with pytest.raises(AuditIntegrityError, match="refuses new events"):
            store.append([event(9)])
        leftover.unlink()
        [appended] = store.append([event(9)])
        assert appended.seq == 5 and store.verify().ok
