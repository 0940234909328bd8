"""``copilot audit``: prove the decision log intact."""

from __future__ import annotations

import click

from ._cli_common import out_console, print_json, settings
from .errors import StoreError

__all__ = ["audit"]


@click.group()
def audit() -> None:
    """The decision audit log: every suggestion shown and every rep action, hash-chained."""


@audit.command()
@click.option("--json", "as_json", is_flag=True, help="Print the verification report as JSON.")
def verify(as_json: bool) -> None:
    """Re-check every row's hash and the chain; exit 1 naming the first bad row.

    Detects edited, deleted and reordered rows, and newest rows cut off the end
    (against the head checkpoint kept beside the database). A missing or
    unreadable log is a failed check too.
    """
    from audit import VerifyReport

    from ._factories import make_audit_store

    config = settings()
    if config.database_url is None and not config.audit_path.exists():
        reason = f"no audit log at {config.audit_path}; is COPILOT_HOME right?"
        report = VerifyReport(ok=False, rows_checked=0, reason=reason)
    else:
        try:
            with make_audit_store(config) as store:
                report = store.verify()
        except StoreError as exc:  # a log that cannot be opened does not verify
            report = VerifyReport(ok=False, rows_checked=0, reason=str(exc))
    if as_json:
        print_json(report.model_dump(mode="json"))
    elif report.ok:
        out_console.print(
            f"[green]OK[/] {report.rows_checked} rows verified; head seq {report.head_seq} "
            f"hash {report.head_hash[:16]}…"
        )
    else:
        where = f"at row seq {report.first_bad_seq}: " if report.first_bad_seq is not None else ""
        out_console.print(f"[red]FAILED[/] {where}{report.reason} ({report.rows_checked} rows checked)")
    if not report.ok:
        raise SystemExit(1)
