"""``copilot audit``: prove the decision log intact."""

from __future__ import annotations

import click

from ._cli_common import BadInput, out_console, print_json, settings
from .errors import CopilotError

__all__ = ["audit"]


@click.group()
def audit() -> None:
    """The decision audit log: every suggestion shown and every rep action, hash-chained."""


@audit.command()
@click.option("--json", "as_json", is_flag=True, help="Print the verification report as JSON.")
def verify(as_json: bool) -> None:
    """Re-check every row's hash and the chain; exit 1 naming the first bad row.

    Detects edited, deleted and reordered rows, and newest rows cut off the end
    (against the head checkpoint kept beside the database).
    """
    from ._factories import make_audit_store

    try:
        with make_audit_store(settings()) as store:
            report = store.verify()
    except CopilotError as exc:
        raise BadInput(str(exc)) from None
    if as_json:
        print_json(report.model_dump(mode="json"))
    elif report.ok:
        out_console.print(
            f"[green]OK[/] {report.rows_checked} rows verified; head seq {report.head_seq} "
            f"hash {report.head_hash[:16]}…"
        )
    else:
        out_console.print(
            f"[red]FAILED[/] at row seq {report.first_bad_seq}: {report.reason} "
            f"({report.rows_checked} rows checked)"
        )
    if not report.ok:
        raise SystemExit(1)
