"""Ingest keeps the audit log's account true: store first, journal, recovery after a
kill, one ingest at a time per home; empty folders refused; --dry-run; --json errors."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rich.console import Console

from audit import AuditStore, SQLiteAuditStore
from copilot._ingest import JOURNAL_FILE, MANIFEST_FILE, ingest_folder
from copilot.cli import main
from knowledge import Atom, AtomStore, BilingualEmbedding, ChromaAtomStore, FileEntry, load_folder

ROOT = Path(__file__).resolve().parent.parent
COPILOT = str(Path(sys.executable).parent / "copilot")
KB = ROOT / "examples" / "kb"
ATOM = """---
id: gen-{n}
type: script
title: Generated script {n}
language: en
scenario: scenario number {n}
status: approved
approved_by: legal@example.com
version: 1
---
Script body number {n} for {{customer}}.
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def make_kb(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        (folder / f"gen-{n}.md").write_text(ATOM.format(n=n), encoding="utf-8")
    return folder


def account(audit: AuditStore) -> dict[str, int | None]:
    """What the audit log says the store holds: atom id -> version, replayed from atom_changed."""
    held: dict[str, int | None] = {}
    for event in audit.events(type="atom_changed"):
        output = event.output or {}
        atom_id = str(output["atom_id"])
        if output["change"] == "removed":
            held.pop(atom_id, None)
        else:
            held[atom_id] = event.atoms.get(atom_id)
    return held


def holds(store: AtomStore) -> dict[str, int | None]:
    return {a.id: a.version for a in store.atoms()}


class Crash(BaseException):
    """Stands for kill -9 inside the process: nothing after it runs."""


class CrashingStore:
    """A real Chroma store that dies on its ``crash_on``-th upsert (before writing)."""

    def __init__(self, inner: ChromaAtomStore, crash_on: int) -> None:
        self.inner, self.crash_on, self.upserts = inner, crash_on, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def upsert(self, atoms: Sequence[Atom]) -> None:
        self.upserts += 1
        if self.upserts == self.crash_on:
            raise Crash
        self.inner.upsert(atoms)


class CrashingAudit(SQLiteAuditStore):
    """A real SQLite audit log that dies on its first append of atom_changed events."""

    crashed = False

    def append(self, events: Sequence[object]) -> list[object]:  # type: ignore[override]
        if not self.crashed:
            self.crashed = True
            raise Crash
        return super().append(events)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path, embedding: BilingualEmbedding) -> ChromaAtomStore:
    return ChromaAtomStore.embedded(tmp_path / "chroma", "atoms", embedding)


def test_killed_mid_ingest_the_log_counts_only_what_the_store_holds(
    tmp_path: Path, store: ChromaAtomStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("knowledge._ingest.BATCH", 64)  # small batches, so there is a middle to die in
    kb, home = make_kb(tmp_path / "kb", 150), tmp_path / "home"  # three batches of 64
    audit = SQLiteAuditStore(tmp_path / "audit.sqlite3")
    with pytest.raises(Crash):
        ingest_folder(kb, CrashingStore(store, crash_on=2), audit, Console(), home=home)  # type: ignore[arg-type]
    assert len(holds(store)) == 64
    assert account(audit) == holds(store)  # the log says 64 added, not 150
    report = ingest_folder(kb, store, audit, Console(), home=home)
    assert report.count("added") == 86 and report.unchanged == 64
    assert account(audit) == holds(store) and len(holds(store)) == 150
    assert len(list(audit.events(type="atom_changed"))) == 150  # nothing logged twice
    audit.close()


def test_killed_between_store_and_log_the_journal_recovers_the_events(
    tmp_path: Path, store: ChromaAtomStore
) -> None:
    kb, home = make_kb(tmp_path / "kb", 10), tmp_path / "home"
    crashing = CrashingAudit(tmp_path / "audit.sqlite3")
    with pytest.raises(Crash):
        ingest_folder(kb, store, crashing, Console(), home=home)
    crashing.close()
    assert len(holds(store)) == 10 and (home / JOURNAL_FILE).exists()
    audit = SQLiteAuditStore(tmp_path / "audit.sqlite3")
    assert account(audit) == {}
    report = ingest_folder(kb, store, audit, Console(), home=home)
    assert report.changes == [] and report.unchanged == 10
    assert account(audit) == holds(store)
    events = list(audit.events(type="atom_changed"))
    assert len(events) == 10 and all((e.output or {}).get("recovered") for e in events)
    assert not (home / JOURNAL_FILE).exists()
    assert audit.verify().ok
    audit.close()


def test_kill_9_during_a_real_ingest_then_rerun_converges(tmp_path: Path) -> None:
    kb = make_kb(tmp_path / "kb", 400)
    env = {**os.environ, "COPILOT_HOME": str(tmp_path / "home")}
    command = [COPILOT, "knowledge", "ingest", str(kb)]
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    audit_path = tmp_path / "home" / "audit.sqlite3"
    deadline = time.monotonic() + 300
    try:
        while child.poll() is None and time.monotonic() < deadline:  # wait until it is at work
            if audit_path.exists() and (tmp_path / "home" / "chroma").exists():
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=0.05)
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
        child.wait()
    rerun = subprocess.run([*command, "--json"], env=env, capture_output=True, text=True, check=False)
    assert rerun.returncode == 0, rerun.stderr
    from copilot import Settings
    from copilot._factories import make_atom_store

    atoms = make_atom_store(Settings(home=tmp_path / "home"))
    with SQLiteAuditStore(audit_path) as audit:
        assert account(audit) == holds(atoms) and len(holds(atoms)) == 400
        assert audit.verify().ok
    atoms.close()


def test_concurrent_ingests_into_one_home_are_serialised(tmp_path: Path) -> None:
    env = {**os.environ, "COPILOT_HOME": str(tmp_path / "home")}
    command = [COPILOT, "knowledge", "ingest", str(KB), "--json"]
    children = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [json.loads(child.communicate(timeout=600)[0]) for child in children]
    assert all(out["ok"] for out in outputs), outputs
    assert sorted(len(out["changes"]) for out in outputs) == [0, 52]  # one did the work, one found it done
    with SQLiteAuditStore(tmp_path / "home" / "audit.sqlite3") as audit:
        assert len(list(audit.events(type="atom_changed"))) == 52


def test_empty_folder_is_refused_unless_allowed(tmp_path: Path) -> None:
    assert run("knowledge", "ingest", str(make_kb(tmp_path / "kb", 3))).exit_code == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = run("knowledge", "ingest", str(empty))
    assert (
        refused.exit_code == 2
        and "--allow-empty" in refused.output
        and "remove all 3 atoms" in refused.output
    )
    as_json = run("knowledge", "ingest", str(empty), "--json")
    assert as_json.exit_code == 2 and json.loads(as_json.stdout)["ok"] is False
    assert len(json.loads(run("knowledge", "list", "--json").stdout)) == 3  # nothing removed
    allowed = json.loads(run("knowledge", "ingest", str(empty), "--allow-empty", "--json").stdout)
    assert [c["change"] for c in allowed["changes"]] == ["removed"] * 3
    assert json.loads(run("knowledge", "list", "--json").stdout) == []


def test_dry_run_shows_what_would_change_and_writes_nothing(tmp_path: Path) -> None:
    kb = make_kb(tmp_path / "kb", 3)
    assert run("knowledge", "ingest", str(kb)).exit_code == 0
    (kb / "gen-0.md").unlink()
    (kb / "gen-1.md").write_text(ATOM.format(n=1).replace("version: 1", "version: 2"), encoding="utf-8")
    (kb / "gen-3.md").write_text(ATOM.format(n=3), encoding="utf-8")
    plan = json.loads(run("knowledge", "ingest", str(kb), "--dry-run", "--json").stdout)
    assert plan["dry_run"] is True
    assert sorted((c["atom_id"], c["change"]) for c in plan["changes"]) == [
        ("gen-0", "removed"),
        ("gen-1", "updated"),
        ("gen-3", "added"),
    ]
    human = run("knowledge", "ingest", str(kb), "--dry-run")
    assert human.exit_code == 0 and "nothing was written" in human.output
    assert sorted(a["id"] for a in json.loads(run("knowledge", "list", "--json").stdout)) == [
        "gen-0",
        "gen-1",
        "gen-2",
    ]
    with SQLiteAuditStore(Path(os.environ["COPILOT_HOME"]) / "audit.sqlite3") as audit:
        assert len(list(audit.events(type="atom_changed"))) == 3


def test_ingest_json_reports_validation_errors_as_json(tmp_path: Path) -> None:
    (tmp_path / "bad.md").write_text("---\nid: BAD\n---\nbody\n", encoding="utf-8")
    result = run("knowledge", "ingest", str(tmp_path), "--json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["ok"] is False and any(p["field"] == "id" for p in doc["problems"])


def test_re_ingest_reads_only_changed_files_while_the_store_is_untouched(
    tmp_path: Path, embedding: BilingualEmbedding
) -> None:
    kb = make_kb(tmp_path / "kb", 4)
    home = Path(os.environ["COPILOT_HOME"])
    assert run("knowledge", "ingest", str(kb)).exit_code == 0
    manifest = home / MANIFEST_FILE
    assert manifest.stat().st_mode & 0o777 == 0o600
    previous = {k: FileEntry(*v) for k, v in json.loads(manifest.read_text())["files"].items()}
    unchanged = load_folder(kb, previous)
    assert unchanged.parsed == [] and set(unchanged.kept) == {f"gen-{n}.md" for n in range(4)}

    (kb / "gen-1.md").write_text(ATOM.format(n=1).replace("version: 1", "version: 2"), encoding="utf-8")
    # An edit that keeps the size and puts the old mtime back is still seen (ctime moves).
    sneaky, before = kb / "gen-3.md", (kb / "gen-3.md").stat()
    sneaky.write_text(ATOM.format(n=3).replace("body number", "BODY NUMBER"), encoding="utf-8")
    os.utime(sneaky, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert sneaky.stat().st_size == before.st_size
    again = json.loads(run("knowledge", "ingest", str(kb), "--json").stdout)
    changed = sorted((c["atom_id"], c["change"]) for c in again["changes"])
    assert changed == [("gen-1", "updated"), ("gen-3", "updated")]
    assert again["unchanged"] == 2
    (kb / "gen-0.md").write_bytes((kb / "gen-0.md").read_bytes())  # rewritten, same bytes
    same = json.loads(run("knowledge", "ingest", str(kb), "--json").stdout)
    assert same["changes"] == [] and same["unchanged"] == 4

    # Another writer changed the store: the manifest no longer describes it, so the
    # store is read and the folder's truth restored.
    other = ChromaAtomStore.embedded(home / "chroma", "atoms", embedding)
    other.delete(["gen-2"])
    other.close()
    healed = json.loads(run("knowledge", "ingest", str(kb), "--json").stdout)
    assert [(c["atom_id"], c["change"]) for c in healed["changes"]] == [("gen-2", "added")]
    assert sorted(a["id"] for a in json.loads(run("knowledge", "list", "--json").stdout)) == [
        f"gen-{n}" for n in range(4)
    ]
