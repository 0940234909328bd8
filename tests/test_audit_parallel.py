"""Verify in seq ranges (audit/_parallel.py): many more ranges than processes, handed out
as they finish; the same verdict as the ordered walk, which still names any damage."""

from __future__ import annotations

import hashlib
import itertools
import logging
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from audit import AuditEvent, SQLiteAuditStore
from audit import _parallel as parallel
from audit._sql import SqlAuditStore

ROWS = 60


def event(n: int, at: datetime | None = None) -> AuditEvent:
    return AuditEvent(
        type="feedback", actor="U1", suggestion_set_id=f"ss-{n}", helpful=True, at=at or datetime.now(UTC)
    )


SMALL = {"min_rows": 10, "range_rows": 3}
"""A small log checked in ranges of a few rows, so that it is cut into many."""


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "big.sqlite3"
    with SQLiteAuditStore(path) as store:
        store.append([event(n) for n in range(ROWS)])
    return path


def ordered(store: SQLiteAuditStore):  # type: ignore[no-untyped-def]
    """The base class's ordered walk, whatever the ranges say."""
    return SqlAuditStore.verify(store)


def tamper(path: Path, statement: str, *params: object) -> None:
    """What an attacker with file access does: drop the triggers, then write."""
    conn = sqlite3.connect(path)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f'DROP TRIGGER "{name}"')
    conn.execute(statement, params)
    conn.commit()
    conn.close()


def test_split_covers_every_row_once_in_order() -> None:
    for first, last, workers in ((1, 60, 2), (5, 5, 3), (1, 7, 2), (101, 1000, 3)):
        bounds = parallel.split(first, last, workers, per_worker=4, min_rows=3)
        assert bounds[0][0] == first and bounds[-1][1] == last
        assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(bounds))
        assert len(bounds) <= workers * 4
        assert all(b - a + 1 >= min(3, last - first + 1) for a, b in bounds[:-1])
    assert len(parallel.split(1, 60, 2, per_worker=4, min_rows=3)) == 8  # more ranges than processes


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_ranges_agree_with_the_ordered_walk(log: Path, workers: int) -> None:
    with SQLiteAuditStore(log, read_only=True) as store:
        report = store.verify(workers=workers, **SMALL)
        assert report.ok and report.rows_checked == ROWS and report.head_seq == ROWS
        assert report == ordered(store)


def test_a_range_counts_its_rows(log: Path) -> None:
    conn = parallel.connect_ranges(f"file:{log}?mode=ro")
    prev = str(conn.execute("SELECT hash FROM audit_events WHERE seq = 9").fetchone()[0])
    assert parallel.range_links(conn, 10, 20, prev)
    assert not parallel.range_links(conn, 10, ROWS + 1, prev)  # a row past the end is missing
    assert not parallel.range_links(conn, 10, 20, "0" * 64)  # wrong previous hash
    conn.close()


def test_a_worker_answers_one_byte_per_range(log: Path) -> None:
    conn = sqlite3.connect(f"file:{log}?mode=ro", uri=True)
    prev = str(conn.execute("SELECT hash FROM audit_events WHERE seq = 30").fetchone()[0])
    conn.close()
    ranges = f"31 40 {prev}\n31 40 {'0' * 64}\n1 {ROWS} {'0' * 64}\n"
    done = subprocess.run(
        [sys.executable, "-I", "-S", parallel.__file__, f"file:{log}?mode=ro"],
        input=ranges.encode(),
        capture_output=True,
        timeout=30,
        check=True,
    )
    assert done.stdout == b"101"


@pytest.mark.parametrize("seq", [2, 23, 58])  # the first range, one in the middle, the last
def test_an_edited_row_is_named_after_the_ranges_fail(log: Path, seq: int) -> None:
    tamper(log, "UPDATE audit_events SET body = replace(body, '\"U1\"', '\"U2\"') WHERE seq = ?", seq)
    with SQLiteAuditStore(log, read_only=True) as store:
        bad = store.verify(workers=3, **SMALL)
        assert (bad.ok, bad.first_bad_seq, bad.damage) == (False, seq, "edited")
        assert bad == ordered(store)


def test_a_deleted_row_is_named_after_the_ranges_fail(log: Path) -> None:
    tamper(log, "DELETE FROM audit_events WHERE seq = 41")
    with SQLiteAuditStore(log, read_only=True) as store:
        bad = store.verify(workers=2, **SMALL)
        assert (bad.ok, bad.first_bad_seq, bad.damage) == (False, 41, "deleted")
        assert "sequence gap at 41" in bad.reason and bad == ordered(store)


def test_a_rehashed_row_shows_where_the_next_one_no_longer_links(log: Path) -> None:
    """A row edited and given a fresh hash of its own: the row after it no longer links."""
    conn = sqlite3.connect(log)
    body, prev = conn.execute(
        "SELECT body, (SELECT hash FROM audit_events WHERE seq = 32) FROM audit_events WHERE seq = 33"
    ).fetchone()
    conn.close()
    forged = body.replace('"U1"', '"U9"')
    digest = hashlib.sha256((prev + forged).encode()).hexdigest()
    tamper(log, "UPDATE audit_events SET body = ?, hash = ? WHERE seq = 33", forged, digest)
    with SQLiteAuditStore(log, read_only=True) as store:
        bad = store.verify(workers=2, **SMALL)
        assert (bad.ok, bad.first_bad_seq, bad.damage) == (False, 34, "edited") and bad == ordered(store)


def test_the_newest_rows_cut_off_are_still_caught_by_the_checkpoint(log: Path) -> None:
    tamper(log, "DELETE FROM audit_events WHERE seq > ?", ROWS - 5)
    with SQLiteAuditStore(log, read_only=True) as store:
        bad = store.verify(workers=2, **SMALL)
        assert (bad.ok, bad.first_bad_seq, bad.damage) == (False, ROWS - 4, "truncated")
        assert bad == ordered(store)


def test_after_a_purge_the_ranges_start_at_the_anchor(tmp_path: Path) -> None:
    path = tmp_path / "purged.sqlite3"
    old = datetime(2024, 1, 1, tzinfo=UTC)
    with SQLiteAuditStore(path) as store:
        store.append([event(n, old + timedelta(minutes=n)) for n in range(20)])
        store.append([event(n) for n in range(20, ROWS)])
        store.purge(before=datetime(2025, 1, 1, tzinfo=UTC), actor="dpo")
        report = store.verify(workers=2, **SMALL)
        assert report.ok and report.rows_checked == ROWS - 20 + 1 and report == ordered(store)
    tamper(path, "DELETE FROM audit_events WHERE seq = 21")  # the first row after the anchor
    with SQLiteAuditStore(path, read_only=True) as store:
        bad = store.verify(workers=2, **SMALL)
        assert (bad.ok, bad.first_bad_seq, bad.damage) == (False, 21, "deleted") and bad == ordered(store)


def test_a_worker_that_cannot_run_falls_back_to_the_ordered_walk(
    log: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sys, "executable", "/bin/false")  # every worker exits at once, answering nothing
    caplog.set_level(logging.INFO, logger="copilot.audit")
    with SQLiteAuditStore(log, read_only=True) as store:
        assert store.verify(workers=3, **SMALL) == ordered(store)
    assert "walking in order" in caplog.text  # the worker's exit, or the pipe it left broken


def test_a_small_log_is_walked_in_order(log: Path) -> None:
    with SQLiteAuditStore(log, read_only=True) as store:
        assert store.verify(workers=2) == ordered(store)  # below PARALLEL_MIN_ROWS


def test_read_ahead_is_only_a_hint(log: Path, tmp_path: Path) -> None:
    parallel.read_ahead(str(tmp_path / "no-such.sqlite3"))  # nothing to read: no error
    parallel.read_ahead(str(log))
    with SQLiteAuditStore(log, read_only=True) as store:
        assert store.verify(workers=2, **SMALL) == ordered(store)
