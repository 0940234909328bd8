"""Ingest a knowledge base folder: validate, embed what changed, log atom changes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from audit import AuditEvent
from knowledge import AtomChange, IngestReport, ingest_atoms, load_atoms

if TYPE_CHECKING:
    from audit import AuditStore
    from knowledge import AtomStore

__all__ = ["ingest_folder"]


def ingest_folder(
    folder: Path, store: AtomStore, audit: AuditStore, console: Console, *, actor: str = "cli"
) -> IngestReport:
    """Validate every atom (all problems at once), then ingest incrementally.

    Every added, updated or removed atom is appended to the audit log as an
    ``atom_changed`` event carrying its old and new status and version, before
    the store is written.
    """
    atoms = load_atoms(folder)

    def log_changes(changes: list[AtomChange]) -> None:
        audit.append([_changed_event(change, folder, actor) for change in changes])

    columns = (
        TextColumn("[bold]Ingesting atoms"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("ingest", total=len(atoms))
        return ingest_atoms(atoms, store, progress=lambda n: bar.advance(task, n), before_write=log_changes)


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
