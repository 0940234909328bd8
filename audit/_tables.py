"""The review report as terminal tables (rich) and as CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

from rich.markup import escape
from rich.table import Table

__all__ = ["report_csv", "report_tables"]

_COLUMNS = (
    "shown",
    "sent_as_is",
    "edited",
    "dismissed",
    "wrote_own",
    "ignored",
    "pending",
    "adoption_rate",
    "adoption_to_correction",
    "helpfulness",
)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and value <= 1 and not isinstance(value, bool):
        return f"{value:.0%}"
    return escape(str(value))


def _table(title: str, rows: dict[str, dict[str, Any]], label: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(label)
    for column in _COLUMNS:
        table.add_column(column.replace("_", " "), justify="right")
    for key, row in rows.items():
        ratio = row["adoption_to_correction"]
        cells = [_cell(row[c]) for c in _COLUMNS]
        cells[_COLUMNS.index("adoption_to_correction")] = "–" if ratio is None else f"{ratio:g} : 1"
        table.add_row(escape(key), *cells)
    return table


def report_tables(data: dict[str, Any]) -> list[Any]:
    """Totals, one table per dimension, the atoms, and the often-shown, rarely-adopted atoms."""
    totals = data["totals"]
    latency = totals["latency_ms"]
    ratio = totals["adoption_to_correction"]
    verdict = "–" if ratio is None else ("meets" if ratio >= data["ratio_target"] else "below")
    window = data["window"]
    header = (
        f"[bold]Decision review[/] {escape(str(window['since'] or 'start'))} → "
        f"{escape(str(window['until'] or 'now'))}: {totals['shown']} sets shown; "
        f"adoption : correction {'–' if ratio is None else f'{ratio:g} : 1'} ({verdict} the "
        f"{data['ratio_target']:g} : 1 target); latency p50 {latency['p50']} ms, p95 {latency['p95']} ms; "
        f"fallback rate {_cell(totals['fallback_rate'])}"
    )
    parts: list[Any] = [header, _table("All sets", {"all": totals}, "")]
    for dimension, rows in data["by"].items():
        parts.append(_table(f"By {dimension.replace('_', ' ')}", rows, dimension))
    if data["atoms"]:
        parts.append(_table("By atom", data["atoms"], "atom"))
    rarely = data["shown_often_adopted_rarely"]
    if rarely:
        names = ", ".join(f"{escape(r['atom'])} ({r['shown']} shown)" for r in rarely)
        parts.append(f"[yellow]Shown often, adopted rarely:[/] {names}")
    return parts


def report_csv(data: dict[str, Any]) -> str:
    """One row per group: dimension, key, then the counts and rates."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["dimension", "key", *_COLUMNS, "helpful", "not_helpful"])

    def put(dimension: str, key: str, row: dict[str, Any]) -> None:
        values = ["" if row[c] is None else row[c] for c in (*_COLUMNS, "helpful", "not_helpful")]
        writer.writerow([dimension, key, *values])

    put("all", "all", data["totals"])
    for dimension, rows in data["by"].items():
        for key, row in rows.items():
            put(dimension, key, row)
    for key, row in data["atoms"].items():
        put("atom", key, row)
    return out.getvalue()
