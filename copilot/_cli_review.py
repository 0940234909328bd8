"""``copilot audit show|export|sweep|purge``: one set's story, the log as a file, housekeeping."""

from __future__ import annotations

import csv
import json
import re
import sys
from datetime import timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click
from rich.markup import escape as _escape_markup

from ._cli_audit import _open_store, _print_event, _when
from ._cli_common import BadInput, out_console, print_json, settings

if TYPE_CHECKING:
    from audit import AuditEvent, SetTimeline

__all__ = ["export", "purge", "show", "sweep"]

EXPORT_COLUMNS = (
    "seq",
    "at",
    "type",
    "actor",
    "conversation_id",
    "suggestion_set_id",
    "engine",
    "model",
    "latency_ms",
    "action",
    "suggestion_index",
    "edit_distance",
    "final_text",
    "helpful",
    "atom_id",
    "reason",
    "prev_hash",
    "hash",
)


_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def escape(text: str) -> str:
    """Text from the log made inert for the terminal: no control or bidi characters, no markup."""
    return _escape_markup(_UNSAFE.sub("", text))


def _diff(story: SetTimeline) -> str | None:
    """Suggestion vs sent as [-removed-] {+added+} (words; characters for Chinese)."""
    ops = story.diff()
    if ops is None:
        return None
    marks = {"removed": ("[red][-", "-][/]"), "added": ("[green]{+", "+}[/]"), "equal": ("", "")}
    parts = []
    for op, text in ops:
        before, after = marks[op]
        stripped = text.rstrip(" ")
        parts.append(f"{before}{escape(stripped)}{after}{text[len(stripped) :]}")
    return "".join(parts)


def _shown_lines(story: SetTimeline) -> list[str]:
    event = story.shown
    assert event is not None
    lines = [f"[bold]{event.at:%Y-%m-%d %H:%M:%S} shown[/] to {escape(event.actor)}, {event.engine}"]
    if event.latency_ms is not None:
        lines[-1] += f", {event.latency_ms:g} ms"
    for message in story.messages[-3:]:
        lines.append(
            f"  input  {escape(str(message.get('from', '?')))}: {escape(str(message.get('text', '')))}"
        )
    for i, suggestion in enumerate(story.suggestions):
        cited = ", ".join(suggestion.get("citations", []))
        basis = "; ".join(suggestion.get("legal_basis", []))
        lines.append(f"  [{i}] {escape(str(suggestion.get('text', '')))}")
        lines.append(f"      cites {escape(cited)}" + (f" · {escape(basis)}" if basis else ""))
    competitor = story.competitor
    if competitor is not None:
        lines.append(
            f"  competitor {escape(str(competitor.get('name')))}: {escape(str(competitor.get('response')))}"
        )
    for verdict in story.compliance:
        note = (
            f"{verdict.get('target')}: {verdict.get('rule')} {verdict.get('action')} ({verdict.get('basis')})"
        )
        lines.append(f"  compliance {escape(note)}")
    if story.output.get("fallback"):
        lines.append(f"  fallback {escape(str(story.output['fallback']))}")
    return lines


def _action_lines(event: AuditEvent, story: SetTimeline) -> list[str]:
    head = f"[bold]{event.at:%Y-%m-%d %H:%M:%S} {event.action}[/] by {escape(event.actor)}"
    if event.suggestion_index is not None:
        head += f", suggestion {event.suggestion_index}"
    if event.edit_distance is not None:
        head += f", edit distance {event.edit_distance}"
    lines = [head]
    diff = _diff(story) if event is story.action else None
    if diff is not None:
        lines.append(f"  diff   {diff}")
    elif event.final_text is not None:
        lines.append(f"  sent   {escape(event.final_text)}")
    if event.reason:
        lines.append(f"  reason {escape(event.reason)}")
    return lines


@click.command()
@click.argument("set_id")
@click.option("--json", "as_json", is_flag=True, help="Print the set's events as a JSON list.")
def show(set_id: str, as_json: bool) -> None:
    """One suggestion set's timeline: input, suggestions, citations, compliance notes,
    the final action with a diff of what was sent, and feedback.

    \b
    Example:
      copilot audit show ss-0123456789abcdef
    """
    from audit import open_audit_store, set_timeline

    config = settings()
    with open_audit_store(
        config.database_url or config.audit_path, read_only=True, home=config.home
    ) as store:
        events = list(store.events(suggestion_set_id=set_id))
    if not events:
        raise BadInput(
            f"no events for suggestion set {set_id!r}; use the id printed by `copilot suggest --json`"
        )
    if as_json:
        print_json([e.model_dump(mode="json") for e in events])
        return
    story = set_timeline(set_id, events)
    for event in events:
        if event is story.shown:
            lines = _shown_lines(story)
        elif event.type == "rep_action":
            lines = _action_lines(event, story)
        elif event.type == "feedback":
            about = f" suggestion {event.suggestion_index}" if event.suggestion_index is not None else ""
            about += f" atom {event.atom_id}" if event.atom_id else ""
            verdict = "helpful" if event.helpful else "not helpful"
            when = f"{event.at:%Y-%m-%d %H:%M:%S}"
            lines = [f"[bold]{when} feedback[/]{escape(about)}: {verdict} {escape(event.reason)}"]
        else:
            lines = [f"[bold]{event.at:%Y-%m-%d %H:%M:%S} {event.type}[/] by {escape(event.actor)}"]
        out_console.print("\n".join(lines))


def _write_export(events: Any, fmt: str, handle: IO[str]) -> int:
    count = 0
    if fmt == "jsonl":
        for event in events:
            handle.write(json.dumps(event.model_dump(mode="json"), ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
        return count
    writer = csv.writer(handle)
    writer.writerow(EXPORT_COLUMNS)
    for event in events:
        data = event.model_dump(mode="json")
        writer.writerow(["" if data[c] is None else data[c] for c in EXPORT_COLUMNS])
        count += 1
    return count


@click.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--since", default=None, help="First day (YYYY-MM-DD or ISO time, UTC), inclusive.")
@click.option("--until", default=None, help="End (YYYY-MM-DD or ISO time, UTC), exclusive.")
@click.option(
    "--out", type=click.Path(path_type=Path, dir_okay=False), default=None, help="File (default: stdout)."
)
def export(fmt: str, since: str | None, until: str | None, out: Path | None) -> None:
    """Export events: JSON lines (every field and hash, re-verifiable) or CSV (flat columns).

    \b
    Examples:
      copilot audit export --format jsonl --out audit.jsonl
      copilot audit export --format csv --since 2026-10-01 --until 2027-01-01 > q4.csv
    """
    from audit import open_audit_store

    config = settings()
    start, end = _when(since, "--since"), _when(until, "--until")
    with open_audit_store(
        config.database_url or config.audit_path, read_only=True, home=config.home
    ) as store:
        events = store.events(since=start, until=end)
        if out is None:
            _write_export(events, fmt, sys.stdout)
            return
        try:
            with out.open("w", encoding="utf-8", newline="") as handle:
                count = _write_export(events, fmt, handle)
        except OSError as exc:
            raise BadInput(f"cannot write {out}: {exc.strerror}") from None
    out_console.print(f"[green]exported[/] {count} event(s) to {escape(str(out))}")


@click.command()
@click.option(
    "--hours",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Window (default: COPILOT_ACTION_WINDOW_HOURS).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the sets marked ignored as JSON.")
def sweep(hours: float | None, as_json: bool) -> None:
    """Record `ignored` for sets left without a final action longer than the window.

    \b
    Example:
      copilot audit sweep            # window: COPILOT_ACTION_WINDOW_HOURS (default 24)

    `copilot serve` runs the same sweep periodically.
    """
    from audit import sweep_ignored

    config = settings()
    window = timedelta(hours=hours if hours is not None else config.action_window_hours)
    with _open_store() as store:
        recorded = sweep_ignored(store, window)
    if as_json:
        print_json(
            {
                "ignored": [e.suggestion_set_id for e in recorded],
                "window_hours": window.total_seconds() / 3600,
            }
        )
    else:
        out_console.print(f"[green]swept[/] {len(recorded)} set(s) marked ignored")


@click.command()
@click.option("--before", required=True, help="Delete events before this date (YYYY-MM-DD, UTC).")
@click.option("--actor", default="operator", help="Who is purging (stored, redacted).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print the purge event as JSON.")
def purge(before: str, actor: str, yes: bool, as_json: bool) -> None:
    """Retention: delete the oldest events, log the purge, keep the chain verifiable.

    \b
    Example:
      copilot audit purge --before 2025-01-01 --yes

    The `purge` event records which rows went and the hash the remaining chain
    starts from; `copilot audit verify` checks from there.
    """
    cutoff = _when(before, "--before")
    assert cutoff is not None
    if not yes and not click.confirm(f"Delete every audit event before {cutoff:%Y-%m-%d %H:%M} UTC?"):
        raise BadInput("purge cancelled")
    with _open_store() as store:
        event = store.purge(before=cutoff, actor=actor)
    output: dict[str, Any] = event.output or {}
    _print_event(event, as_json, f"purge of seq {output.get('first_seq')}-{output.get('through_seq')}")
