"""Incremental ingest: embed only what changed since the last run."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from ._atom import Atom
from ._store import AtomStore

__all__ = ["AtomChange", "IngestReport", "KnownAtom", "ingest_atoms"]

BATCH = 512  # one Chroma write and one parallel embedding per batch


@dataclass(frozen=True)
class AtomChange:
    """One atom that was added, updated or removed; status moves are content-owner events."""

    atom_id: str
    change: str  # added | updated | removed
    version: int | None
    old_status: str | None
    new_status: str | None
    content_hash: str | None = None  # of the new atom; None when removed


@dataclass
class IngestReport:
    changes: list[AtomChange] = field(default_factory=list)
    unchanged: int = 0
    dry_run: bool = False

    def count(self, change: str) -> int:
        return sum(1 for c in self.changes if c.change == change)


@dataclass
class _Plan:
    report: IngestReport
    todo: list[Atom]
    gone: list[str]


@dataclass(frozen=True)
class KnownAtom:
    """What the store holds for one atom id, as far as planning needs."""

    content_hash: str
    status: str
    version: int


def _plan(
    atoms: Sequence[Atom], store: AtomStore, known: Mapping[str, KnownAtom] | None, unchanged: Collection[str]
) -> _Plan:
    if known is None:  # one read of the records' metadata: no atom parsed
        known = {i: KnownAtom(*state) for i, state in store.states().items()}
    report = IngestReport(unchanged=len(unchanged))
    todo: list[Atom] = []
    for atom in atoms:
        old = known.get(atom.id)
        if old is not None and old.content_hash == atom.content_hash:
            report.unchanged += 1
            continue
        todo.append(atom)
        change = "updated" if old else "added"
        report.changes.append(
            AtomChange(
                atom.id, change, atom.version, old.status if old else None, atom.status, atom.content_hash
            )
        )
    gone = sorted(set(known) - {a.id for a in atoms} - set(unchanged))
    for atom_id in gone:
        old = known[atom_id]
        report.changes.append(AtomChange(atom_id, "removed", old.version, old.status, None, None))
    return _Plan(report, todo, gone)


def ingest_atoms(
    atoms: Sequence[Atom],
    store: AtomStore,
    progress: Callable[[int], None] | None = None,
    *,
    before_write: Callable[[list[AtomChange]], None] | None = None,
    after_write: Callable[[list[AtomChange]], None] | None = None,
    dry_run: bool = False,
    known: Mapping[str, KnownAtom] | None = None,
    unchanged: Collection[str] = (),
) -> IngestReport:
    """Bring ``store`` in line with ``atoms`` (already validated).

    New and changed atoms are embedded and upserted in batches; atoms gone from
    the folder are removed; unchanged atoms are not touched. Retired and expired
    atoms stay in the store (so they can be listed) but are never served.
    For each batch, ``before_write`` sees the changes about to be written (a
    journal of intent) and ``after_write`` the changes just applied (the audit
    log records only what the store holds). With ``dry_run`` nothing is
    written: the report says what would change. ``progress`` is called with the
    number of atoms handled after each batch.

    ``known`` (what the store holds, when the caller knows it without reading the
    store) and ``unchanged`` (ids of atoms whose files did not change, not passed in
    ``atoms``) let a re-ingest of a large unchanged folder skip reading and parsing.
    """
    plan = _plan(atoms, store, known, unchanged)
    report = plan.report
    report.dry_run = dry_run
    if dry_run:
        return report
    if progress and report.unchanged:
        progress(report.unchanged)
    by_id = {c.atom_id: c for c in report.changes}
    for start in range(0, len(plan.todo), BATCH):
        batch = plan.todo[start : start + BATCH]
        changes = [by_id[a.id] for a in batch]
        if before_write:
            before_write(changes)
        store.upsert(batch)
        if after_write:
            after_write(changes)
        if progress:
            progress(len(batch))
    if plan.gone:
        changes = [by_id[atom_id] for atom_id in plan.gone]
        if before_write:
            before_write(changes)
        store.delete(plan.gone)
        if after_write:
            after_write(changes)
    return report
