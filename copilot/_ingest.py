"""Ingest a knowledge base folder: validate, embed what changed, log what was applied.

The audit log's account of the atom store stays true even if ingest is killed:

- one ingest at a time per COPILOT_HOME (an exclusive lock on ``ingest.lock``;
  a second ingest waits, then finds the work done);
- each batch is first written to a journal (``ingest.journal``: the events it
  will log, with their ids), then to the store, then to the audit log as
  ``atom_changed`` events, and the journal is cleared;
- a run that finds a journal (the last run died mid-batch) logs each journaled
  change the store did receive and that the log lacks, marked ``recovered``,
  before doing anything else. Changes that never reached the store are simply
  found again by the next comparison.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from audit import AuditEvent
from knowledge import AtomChange, FileEntry, IngestReport, KnownAtom, ingest_atoms, load_folder

from ._untrusted import markup_safe
from .errors import InputError, StoreError

if TYPE_CHECKING:
    from audit import AuditStore
    from knowledge import AtomStore

__all__ = ["ingest_folder", "ingest_lock"]

LOCK_FILE = "ingest.lock"
JOURNAL_FILE = "ingest.journal"
MANIFEST_FILE = "ingest-manifest.json"  # each file's sha256 and atom, as last ingested


def ingest_folder(
    folder: Path,
    store: AtomStore,
    audit: AuditStore,
    console: Console,
    *,
    home: Path,
    actor: str = "cli",
    allow_empty: bool = False,
    dry_run: bool = False,
) -> IngestReport:
    """Validate every atom (all problems at once), then ingest incrementally.

    An empty folder would remove every atom: it is refused (``InputError``)
    unless ``allow_empty``. With ``dry_run`` the report says what would change
    and nothing is written or logged.
    """
    with ingest_lock(home, console):  # the manifest must describe the store as we read it
        with _bar(console, "Reading atom files", "files") as bar:
            task = bar.add_task("read", total=None)
            previous = _read_manifest(home / MANIFEST_FILE, folder, store)
            loaded = load_folder(
                folder, previous, progress=lambda done, total: bar.update(task, completed=done, total=total)
            )
        if not loaded.entries and not allow_empty:
            message = (
                f"{folder}: no atom files found; ingesting it would remove all {store.count()} atoms "
                "from the store. Check the path, or pass --allow-empty to empty the store on purpose"
            )
            raise InputError(message)
        # Files unchanged since a run whose result the store still holds need no parsing,
        # no reading of the store and no embedding: a re-ingest of a large unchanged
        # folder costs one hash per file.
        known = (
            {e.atom_id: KnownAtom(e.content_hash, e.status, e.version) for e in previous.values()}
            if previous
            else None  # no trusted manifest: the store is read
        )
        unchanged = [e.atom_id for e in loaded.kept.values()]
        if dry_run:
            return ingest_atoms(loaded.parsed, store, dry_run=True, known=known, unchanged=unchanged)
        journal = home / JOURNAL_FILE
        _recover(journal, store, audit)
        pending: list[AuditEvent] = []

        def intend(changes: list[AtomChange]) -> None:
            pending[:] = [_changed_event(change, folder, actor) for change in changes]
            _write_journal(journal, audit.count(), changes, pending)

        def applied(changes: list[AtomChange]) -> None:
            audit.append(pending)
            journal.unlink()

        with _bar(console, "Ingesting atoms", "atoms") as bar:
            task = bar.add_task("ingest", total=len(loaded.entries))
            report = ingest_atoms(
                loaded.parsed,
                store,
                lambda n: bar.advance(task, n),
                before_write=intend,
                after_write=applied,
                known=known,
                unchanged=unchanged,
            )
        _write_manifest(home / MANIFEST_FILE, folder, store, loaded.entries)
        return report


class _Rate(ProgressColumn):
    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} {self.unit}/s" if speed else "", style="progress.data.speed")


def _bar(console: Console, label: str, unit: str) -> Progress:
    columns = (
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(unit),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    return Progress(*columns, console=console, transient=True, disable=not console.is_terminal)


def _read_manifest(path: Path, folder: Path, store: AtomStore) -> dict[str, FileEntry]:
    """The files of the last ingest of ``folder``, when the store still holds exactly
    what that ingest left (no process wrote since); else empty (read everything)."""
    generation = store.generation()
    if generation is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("folder") != str(folder.resolve()) or data.get("generation") != list(generation):
            return {}
        return {key: FileEntry(*value) for key, value in data["files"].items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}  # missing or unreadable: the slow, always-correct path


def _write_manifest(path: Path, folder: Path, store: AtomStore, entries: dict[str, FileEntry]) -> None:
    generation = store.generation()
    if generation is None:
        path.unlink(missing_ok=True)
        return
    data = {
        "folder": str(folder.resolve()),
        "generation": list(generation),
        "files": {key: list(vars(e).values()) for key, e in entries.items()},
    }
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, ensure_ascii=False, separators=(",", ":"))
    os.replace(tmp, path)


_HELD: dict[Path, int] = {}  # homes whose lock this process holds, with the nesting depth


@contextmanager
def ingest_lock(home: Path, console: Console) -> Iterator[None]:
    """Hold the home's ingest lock (reentrant in one process); wait, saying so,
    while another process holds it. Take it before opening the stores, so two
    first ingests do not race to create them."""
    home = home.resolve()
    if _HELD.get(home):
        _HELD[home] += 1
        try:
            yield
        finally:
            _HELD[home] -= 1
        return
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(home / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            console.print(f"waiting for another ingest into {markup_safe(str(home))} to finish …")
            fcntl.flock(fd, fcntl.LOCK_EX)
        _HELD[home] = 1
        try:
            yield
        finally:
            del _HELD[home]
    finally:
        os.close(fd)  # closing releases the lock


def _write_journal(path: Path, since: int, changes: list[AtomChange], events: list[AuditEvent]) -> None:
    entries = [
        {"event": event.model_dump(mode="json"), "change": change.change, "hash": change.content_hash}
        for change, event in zip(changes, events, strict=True)
    ]
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"since_seq": since, "entries": entries}, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def _recover(path: Path, store: AtomStore, audit: AuditStore) -> None:
    """Log the journaled changes a killed run applied to the store but never logged."""
    if not path.exists():
        return
    try:
        journal = json.loads(path.read_text(encoding="utf-8"))
        entries = journal["entries"]
        since = int(journal["since_seq"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"{path}: unreadable ingest journal ({exc}); inspect it, then delete it") from None
    logged = {e.event_id for e in audit.events(type="atom_changed", since_seq=max(since - 1, 0))}
    stored = {a.id: a.content_hash for a in store.atoms()}
    missing: list[AuditEvent] = []
    for entry in entries:
        event = AuditEvent.model_validate(entry["event"])
        atom_id = str((event.output or {}).get("atom_id", ""))
        reached = (
            atom_id not in stored if entry["change"] == "removed" else stored.get(atom_id) == entry["hash"]
        )
        if reached and event.event_id not in logged:
            output = dict(event.output or {}) | {"recovered": True}
            missing.append(AuditEvent.model_validate(entry["event"] | {"output": output}))
    if missing:
        audit.append(missing)
    path.unlink()


def _changed_event(change: AtomChange, folder: Path, actor: str) -> AuditEvent:
    return AuditEvent(
        type="atom_changed",
        actor=actor,
        output={
            "atom_id": change.atom_id,
            "change": change.change,
            "old_status": change.old_status,
            "new_status": change.new_status,
            "folder": str(folder),
        },
        atoms={change.atom_id: change.version} if change.version else {},
    )
