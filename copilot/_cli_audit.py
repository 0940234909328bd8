"""``copilot audit``: record reps' actions, review them, prove the decision log intact."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from ._cli_common import BadInput, FailedCheck, out_console, print_json, settings
from ._redact import redact_text
from .errors import StoreError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from audit import AuditEvent, AuditStore, RepAction

    from ._settings import Settings

MAX_TEXT_BYTES = 64 * 1024

__all__ = ["audit"]


@click.group()
def audit() -> None:
    """The decision audit log: every suggestion shown and every rep action, hash-chained."""


@audit.command()
@click.option(
    "--checkpoint",
    "checkpoint_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="An exported checkpoint the log must still contain (repeatable).",
)
@click.option(
    "--facts",
    "check_facts",
    is_flag=True,
    help="Also check that the facts lookups use (type, time, rep, set, conversation, event id)"
    " agree with every hashed row. Parses every row: about 8 s per million on SQLite.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verification report as JSON.")
def verify(checkpoint_files: tuple[Path, ...], check_facts: bool, as_json: bool) -> None:
    """Re-check every row's hash and the chain; exit 1 naming the first bad row.

    \b
    Examples:
      copilot audit verify
      copilot audit verify --checkpoint /mnt/worm/audit-2026-11-01.json --json
      copilot audit verify --facts

    Detects edited, deleted and reordered rows, and newest rows cut off the end
    (against the head checkpoint kept beside the database, and against every
    exported checkpoint given). Opens the log read-only, so it also works on a
    read-only copy. A missing or unreadable log is a failed check too.
    --facts also checks the facts derived from each row, which lookups and the
    one-final-action rule use.
    """
    from audit import VerifyReport, load_exported_checkpoint

    from ._factories import make_audit_store

    config = settings()
    key = _signing_key(config)
    exported = [load_exported_checkpoint(path, key) for path in checkpoint_files]
    try:
        with make_audit_store(config, read_only=True) as store:
            report = store.verify(exported)
            facts = store.check_facts() if report.ok and check_facts else None
        if facts is not None and not facts.ok:
            report = facts.model_copy(update={"head_seq": report.head_seq, "head_hash": report.head_hash})
    except StoreError as exc:  # a log that cannot be opened does not verify
        report = VerifyReport(ok=False, rows_checked=0, reason=str(exc), damage="unreadable")
    if as_json:
        print_json(report.model_dump(mode="json"))
    elif report.ok:
        out_console.print(
            f"[green]OK[/] {report.rows_checked} rows verified; head seq {report.head_seq} "
            f"hash {report.head_hash[:16]}…"
        )
    else:
        where = f"at row seq {report.first_bad_seq}: " if report.first_bad_seq is not None else ""
        damage = f" [damage: {report.damage}]" if report.damage else ""
        text = f"{where}{report.reason}{damage} ({report.rows_checked} rows checked)"
        out_console.print(f"[red]FAILED[/] {escape(text)}")
    if not report.ok:
        raise SystemExit(1)


@audit.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the checkpoint to this file (default: print it).",
)
def checkpoint(out: Path | None) -> None:
    """Export the log's head (count, seq, hash, time) to keep beyond this machine.

    \b
    Examples:
      copilot audit checkpoint --out /mnt/worm/audit-$(date +%F).json
      copilot audit verify --checkpoint /mnt/worm/audit-2026-11-01.json

    Signed with Ed25519 when COPILOT_AUDIT_SIGNING_KEY is set. Refused (exit 1)
    when the log does not verify: a checkpoint vouches only for an intact log.
    """
    from audit import export_checkpoint

    from ._factories import make_audit_store

    config = settings()
    key = _signing_key(config)
    with make_audit_store(config, read_only=True) as store:
        report = store.verify()
    if not report.ok:
        raise FailedCheck(f"the audit log does not verify ({report.reason}); no checkpoint written")
    source = _redacted_source(config.database_url) if config.database_url else str(config.audit_path)
    document = export_checkpoint(report, source, key)
    if out is None:
        print_json(document)
        return
    try:
        out.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot write {out}: {exc.strerror}") from None
    signed = "signed" if key is not None else "unsigned (set COPILOT_AUDIT_SIGNING_KEY to sign)"
    out_console.print(f"[green]wrote[/] {escape(str(out))}: seq {report.head_seq}, {signed}")


@audit.command()
@click.option("--reason", required=True, help="What happened and who investigated (stored, redacted).")
@click.option("--actor", default="operator", help="Who is recovering the log (stored, redacted).")
@click.option("--json", "as_json", is_flag=True, help="Print the incident event as JSON.")
def recover(reason: str, actor: str, as_json: bool) -> None:
    """Resume a log that refused new events because it no longer matched its checkpoint.

    \b
    Example:
      copilot audit recover --reason "restored from backup after disk failure, ticket OPS-42"

    Appends an `incident` event recording what the checkpoint and the log's
    tail said, who and why, then moves the checkpoint to it. The damage stays
    visible to `copilot audit verify --checkpoint` against older exports.
    """
    with _open_store() as store:
        event = store.recover(actor=actor, reason=reason)
    _print_event(event, as_json, f"incident ({(event.output or {}).get('kind')}): appends resume")


def _signing_key(config: Settings) -> Ed25519PrivateKey | None:
    from audit import signing_key

    secret = config.audit_signing_key
    return None if secret is None else signing_key(secret.get_secret_value())


def _redacted_source(url: str) -> str:
    """A database URL without its password."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"


def _read_text_file(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_TEXT_BYTES + 1)
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_TEXT_BYTES:
        raise BadInput(f"{path}: over the {MAX_TEXT_BYTES} byte limit for a final text")
    try:
        return raw.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not valid UTF-8 at byte {exc.start}; save it as UTF-8") from None


def _print_event(event: AuditEvent, as_json: bool, summary: str) -> None:
    if as_json:
        print_json(event.model_dump(mode="json"))
    else:
        out_console.print(f"[green]recorded[/] {escape(summary)} (seq {event.seq})")


@audit.command()
@click.argument("set_id")
@click.option(
    "--action",
    "action",
    required=True,
    type=click.Choice(["sent_as_is", "edited", "dismissed", "wrote_own"]),
    help="What the rep finally did with the set.",
)
@click.option("--index", type=click.IntRange(min=0), default=None, help="Which suggestion (0, 1, 2).")
@click.option(
    "--text-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The text actually sent (edited, wrote_own); redacted before it is stored.",
)
@click.option("--rep", default=None, help="Rep id recording it (default: the rep the set was shown to).")
@click.option("--json", "as_json", is_flag=True, help="Print the stored event as JSON.")
def action(
    set_id: str, action: RepAction, index: int | None, text_file: Path | None, rep: str | None, as_json: bool
) -> None:
    """Record the rep's final action on one suggestion set (once per set).

    \b
    Examples:
      copilot audit action ss-0123456789abcdef --action sent_as_is --index 0
      copilot audit action ss-0123456789abcdef --action edited --index 1 --text-file sent.txt
      copilot audit action ss-0123456789abcdef --action dismissed

    A second action on the same set, another rep's action, or an index the set
    did not show is refused with exit code 2.
    """
    from audit import append_action, find_shown

    final_text = _read_text_file(text_file)
    with _open_store() as store:
        who = rep if rep is not None else find_shown(store, set_id).actor
        event = append_action(store, set_id, action, rep=redact_text(who), index=index, final_text=final_text)
    where = f" suggestion {index}" if index is not None else ""
    distance = f", edit distance {event.edit_distance}" if event.edit_distance is not None else ""
    _print_event(event, as_json, f"{action} on {set_id}{where}{distance}")


@audit.command()
@click.argument("set_id")
@click.option("--helpful/--not-helpful", required=True, help="Did the suggestion (or atom) help?")
@click.option("--index", type=click.IntRange(min=0), default=None, help="About this suggestion only.")
@click.option("--atom", "atom_id", default=None, help="About this atom only (one the set cited).")
@click.option("--reason", default="", help="Why, in a few words (redacted before it is stored).")
@click.option("--rep", default=None, help="Rep id giving it (default: the rep the set was shown to).")
@click.option("--json", "as_json", is_flag=True, help="Print the stored event as JSON.")
def feedback(
    set_id: str,
    helpful: bool,
    index: int | None,
    atom_id: str | None,
    reason: str,
    rep: str | None,
    as_json: bool,
) -> None:
    """Record "did this help?" for a set, one of its suggestions, or one atom it cited.

    \b
    Examples:
      copilot audit feedback ss-0123456789abcdef --helpful --index 0
      copilot audit feedback ss-0123456789abcdef --not-helpful --atom obj-price-too-high-mfg --reason 过时
    """
    from audit import append_feedback, find_shown

    with _open_store() as store:
        who = rep if rep is not None else find_shown(store, set_id).actor
        event = append_feedback(
            store, set_id, helpful, rep=redact_text(who), index=index, atom_id=atom_id, reason=reason
        )
    _print_event(event, as_json, f"{'helpful' if helpful else 'not helpful'} on {set_id}")


def _open_store() -> AuditStore:
    from ._factories import make_audit_store

    return make_audit_store(settings())


def _when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{option} {value!r} is not a date; use YYYY-MM-DD or an ISO-8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@audit.command()
@click.option("--since", default=None, help="First day (YYYY-MM-DD or ISO time, UTC), inclusive.")
@click.option("--until", default=None, help="End (YYYY-MM-DD or ISO time, UTC), exclusive.")
@click.option("--rep", "reps", multiple=True, help="Only these reps (repeatable).")
@click.option("--team", default=None, help="Only the reps of this team (COPILOT_TEAMS).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as one JSON document.")
@click.option("--csv", "as_csv", is_flag=True, help="Print one CSV row per group (dimension, key, counts).")
def report(
    since: str | None, until: str | None, reps: tuple[str, ...], team: str | None, as_json: bool, as_csv: bool
) -> None:
    """Adoption against manual correction (target 3 : 1), by rep, agent, engine, atom.

    \b
    Examples:
      copilot audit report                                   # tables in the terminal
      copilot audit report --since 2026-10-01 --until 2027-01-01 --json > q4.json
      copilot audit report --team east --csv > east.csv

    Adoption = sent as is + edited, over sets with a final action; correction =
    edited + wrote own; the ratio is sent as is : correction. Teams come from
    COPILOT_TEAMS, e.g. '{"east": ["U1", "U2"]}'.
    """
    from audit import build_report, report_csv, report_tables

    if as_json and as_csv:
        raise BadInput("choose one of --json and --csv")
    config = settings()
    chosen: set[str] | None = {redact_text(r) for r in reps} if reps else None
    if team is not None:
        if team not in config.teams:
            known = ", ".join(sorted(config.teams)) or "none: set COPILOT_TEAMS"
            raise BadInput(f"unknown team {team!r} (teams: {known})")
        members = {redact_text(r) for r in config.teams[team]}
        chosen = members if chosen is None else chosen & members
    start, end = _when(since, "--since"), _when(until, "--until")
    with _open_store() as store:
        data = build_report(store.facts(since=start), since=start, until=end, reps=chosen)
    if as_json:
        print_json(data)
    elif as_csv:
        click.echo(report_csv(data), nl=False)
    else:
        out_console.print(*report_tables(data))


from ._cli_review import export, purge, show, sweep  # noqa: E402  (uses the helpers above)

for _command in (show, export, sweep, purge):
    audit.add_command(_command)
