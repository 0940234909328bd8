"""Incremental ingest: embed only what changed since the last run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ._atom import Atom
from ._store import AtomStore

__all__ = ["AtomChange", "IngestReport", "ingest_atoms"]

BATCH = 512  # one Chroma write and one parallel embedding per batch


@dataclass(frozen=True)
class AtomChange:
    """One atom that was added, updated or removed; status moves are content-owner events."""

    atom_id: str
    change: str  # added | updated | removed
    version: int | None
    old_status: str | None
    new_status: str | None


@dataclass
class IngestReport:
    changes: list[AtomChange] = field(default_factory=list)
    unchanged: int = 0

    def count(self, change: str) -> int:
        return sum(1 for c in self.changes if c.change == change)


def ingest_atoms(
    atoms: Sequence[Atom],
    store: AtomStore,
    progress: Callable[[int], None] | None = None,
    before_write: Callable[[list[AtomChange]], None] | None = None,
) -> IngestReport:
    """Bring ``store`` in line with ``atoms`` (already validated).

    New and changed atoms are embedded and upserted in batches; atoms gone from
    the folder are removed; unchanged atoms are not touched. Retired and expired
    atoms stay in the store (so they can be listed) but are never served.
    ``before_write`` sees every planned change before the store is touched (the
    audit log records them first, so a failed write never loses a change);
    ``progress`` is called with the number of atoms handled after each batch.
    """
    previous = {a.id: a for a in store.atoms()}  # one read: hashes derive from the atoms
    known = {atom_id: atom.content_hash for atom_id, atom in previous.items()}
    report = IngestReport()
    todo: list[Atom] = []
    for atom in atoms:
        if known.get(atom.id) == atom.content_hash:
            report.unchanged += 1
            continue
        todo.append(atom)
        old = previous.get(atom.id)
        change = "updated" if old else "added"
        report.changes.append(
            AtomChange(atom.id, change, atom.version, old.status if old else None, atom.status)
        )
    gone = sorted(set(known) - {a.id for a in atoms})
    for atom_id in gone:
        old = previous.get(atom_id)
        version, status = (old.version, old.status) if old else (None, None)
        report.changes.append(AtomChange(atom_id, "removed", version, status, None))
    if before_write and report.changes:
        before_write(report.changes)
    if progress and report.unchanged:
        progress(report.unchanged)
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        store.upsert(batch)
        if progress:
            progress(len(batch))
    store.delete(gone)
    return report
