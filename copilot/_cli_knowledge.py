"""``copilot knowledge``: validate, ingest, list and search atoms."""

from __future__ import annotations

import collections
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich import box
from rich.table import Table
from rich.text import Text

from ._cli_common import BadInput, err_console, out_console, print_json, settings
from ._models import ATOM_TYPES, STAGES
from ._untrusted import markup_safe, terminal_text
from .errors import AtomValidationError, CopilotError

if TYPE_CHECKING:
    from knowledge import Atom

__all__ = ["knowledge"]

_FOLDER = click.Path(path_type=Path, file_okay=False)


@click.group()
def knowledge() -> None:
    """Curate knowledge atoms: one Markdown file per atom, YAML front matter on top.

    \b
      copilot knowledge validate examples/kb    # check every file, list every problem
      copilot knowledge ingest examples/kb      # embed what changed into the store
      copilot knowledge list --status approved  # what the store holds
      copilot knowledge search "价格太高" --industry manufacturing
    """


@knowledge.command()
@click.argument("folder", type=_FOLDER)
@click.option("--json", "as_json", is_flag=True, help="Print counts or problems as JSON.")
def validate(folder: Path, as_json: bool) -> None:
    """Check every atom file in FOLDER; report all problems with file, line and field."""
    from knowledge import load_atoms

    try:
        atoms = load_atoms(folder)
    except AtomValidationError as exc:
        if as_json:
            print_json({"ok": False, "problems": [p.__dict__ for p in exc.problems]})
            raise SystemExit(2) from None
        raise BadInput(str(exc)) from None
    today = date.today()
    served = sum(1 for a in atoms if a.is_served(today))
    by_type = collections.Counter(a.type for a in atoms)
    if as_json:
        print_json({"ok": True, "atoms": len(atoms), "served": served, "by_type": dict(by_type)})
        return
    table = Table("type", "atoms", "served")
    for atom_type, count in sorted(by_type.items()):
        table.add_row(
            atom_type, str(count), str(sum(a.is_served(today) for a in atoms if a.type == atom_type))
        )
    out_console.print(
        f"[green]OK[/] {markup_safe(str(folder))}: {len(atoms)} valid atoms, {served} served today"
    )
    out_console.print(table)


@knowledge.command()
@click.argument("folder", type=_FOLDER)
@click.option("--dry-run", is_flag=True, help="Show what would change; write and log nothing.")
@click.option("--allow-empty", is_flag=True, help="Accept a FOLDER with no atoms (empties the store).")
@click.option("--json", "as_json", is_flag=True, help="Print what changed (or the error) as JSON.")
def ingest(folder: Path, dry_run: bool, allow_empty: bool, as_json: bool) -> None:
    """Validate FOLDER, then embed new and changed atoms into the atom store.

    Unchanged atoms are skipped; atoms deleted from FOLDER are removed; every
    change the store received is logged to the audit log as atom_changed.
    Retired and expired atoms stay listed but are never served. A FOLDER with
    no atoms is refused (it would remove every atom) unless --allow-empty.
    One ingest runs at a time per COPILOT_HOME; a second one waits.

    \b
      copilot knowledge ingest examples/kb --dry-run   # what would change
      copilot knowledge ingest examples/kb --json      # counts and changes, or the error
    """
    from ._factories import make_atom_store, make_audit_store
    from ._ingest import ingest_folder, ingest_lock

    try:
        config = settings()
        with ingest_lock(config.home, err_console):  # before the stores: first ingests race to create them
            store = make_atom_store(config)
            try:
                with make_audit_store(config) as audit:
                    report = ingest_folder(
                        folder,
                        store,
                        audit,
                        err_console,
                        home=config.home,
                        allow_empty=allow_empty,
                        dry_run=dry_run,
                    )
            finally:
                store.close()
    except (CopilotError, click.ClickException) as exc:
        if not as_json:
            raise
        problems = [p.__dict__ for p in exc.problems] if isinstance(exc, AtomValidationError) else []
        message = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
        print_json({"ok": False, "error": terminal_text(message), "problems": problems})
        raise SystemExit(2) from None
    if as_json:
        print_json(
            {
                "ok": True,
                "dry_run": dry_run,
                "unchanged": report.unchanged,
                "changes": [change.__dict__ for change in report.changes],
            }
        )
        return
    verb = "would change" if dry_run else "changed"
    shown = markup_safe(str(folder))
    out_console.print(f"{shown}: {len(report.changes)} {verb}, {report.unchanged} unchanged")
    if dry_run:
        out_console.print("[yellow]dry run[/]: nothing was written or logged")
    table = Table()
    table.add_column("atom", no_wrap=True)
    table.add_column("change")
    table.add_column("status")
    for change in report.changes:
        status = f"{change.old_status or '—'} → {change.new_status or '—'}"
        table.add_row(change.atom_id, change.change, status)
    out_console.print(table)


@knowledge.command("list")
@click.option("--type", "atom_type", type=click.Choice(ATOM_TYPES), default=None, help="Only this type.")
@click.option(
    "--status",
    type=click.Choice(["draft", "in_review", "approved", "retired"]),
    default=None,
    help="Only this status.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the atoms as JSON.")
def list_atoms(atom_type: str | None, status: str | None, as_json: bool) -> None:
    """List the atoms in the store, and whether each is served today."""
    from knowledge import StoreFilter

    from ._factories import make_atom_store

    store = make_atom_store(settings(), read_only=True)
    try:
        atoms = store.atoms(StoreFilter(types=[atom_type] if atom_type else None))
    finally:
        store.close()
    atoms = [a for a in atoms if status is None or a.status == status]
    today = date.today()
    if as_json:
        print_json(
            [a.model_dump(mode="json", exclude={"body"}) | {"served": a.is_served(today)} for a in atoms]
        )
        return
    table = Table(caption=f"{len(atoms)} atoms", box=box.SIMPLE_HEAD)
    table.add_column("id", no_wrap=True)
    for column in ("type", "lang", "state", "v"):
        table.add_column(column)
    table.add_column("title", overflow="fold", min_width=16)
    for a in atoms:
        title = Text(terminal_text(a.title))
        table.add_row(a.id, a.type, a.language, _state(a, today), str(a.version), title)
    out_console.print(table)


@knowledge.command()
@click.argument("query")
@click.option("--industry", default="", help="Deal industry, e.g. manufacturing.")
@click.option(
    "--stage", type=click.Choice(STAGES), default="discovery", show_default=True, help="Deal stage."
)
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, 50))
@click.option("--json", "as_json", is_flag=True, help="Print the hits as JSON.")
def search(query: str, industry: str, stage: str, k: int, as_json: bool) -> None:
    """Retrieve the served atoms a Suggest press would see for QUERY."""
    from knowledge import Retriever, detect_language

    from ._factories import make_atom_store

    store = make_atom_store(settings(), read_only=True)
    try:
        found = Retriever(store, k=k).retrieve(
            query, language=detect_language(query), industry=industry, stage=stage, today=date.today()
        )
    finally:
        store.close()
    if as_json:
        print_json(
            [
                {
                    "id": s.atom.id,
                    "similarity": round(s.similarity, 4),
                    "type": s.atom.type,
                    "language": s.atom.language,
                    "title": s.atom.title,
                }
                for s in found.candidates
            ]
        )
        return
    caption = (
        f"top {k} for {markup_safe(repr(query))}, ranked by similarity plus the language and industry bonus"
    )
    table = Table(caption=caption, box=box.SIMPLE_HEAD)
    table.add_column("#")
    table.add_column("id", no_wrap=True)
    for column in ("sim", "type", "lang"):
        table.add_column(column)
    table.add_column("title", overflow="fold")
    for rank, s in enumerate(found.candidates, 1):
        title = Text(terminal_text(s.atom.title))
        table.add_row(str(rank), s.atom.id, f"{s.similarity:.3f}", s.atom.type, s.atom.language, title)
    out_console.print(table)


def _state(atom: Atom, today: date) -> str:
    """``served`` or why not: draft, in_review, retired, expired."""
    if atom.is_served(today):
        return "served"
    return "expired" if atom.status == "approved" else atom.status
