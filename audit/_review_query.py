"""Filters, figures and series over the suggestion sets (``SetRow``) of the review index.

The definitions are the report's (``_report``): adoption is sent as is + edited
over sets with an action, correction is edited + wrote own, the ratio compared
with 3 : 1 is sent as is : correction; an atom counts as adopted only when the
suggestion that cited it was the one sent.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ._report import ACTIONS, RATIO_TARGET, Breakdown, _percentile
from ._review_index import SetRow

__all__ = ["SetFilters", "dashboard_figures", "quarter_of", "sets_csv", "weekly_series"]

FILTER_ACTIONS = (*ACTIONS, "pending")


def _day(text: str, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a date; use YYYY-MM-DD") from None


@dataclass(frozen=True)
class SetFilters:
    """What the set list shows; each field is a URL query parameter of the same name."""

    rep: str = ""
    team: str = ""
    since: str = ""
    """First day, YYYY-MM-DD (UTC), inclusive."""
    until: str = ""
    """Last day, YYYY-MM-DD (UTC), inclusive."""
    action: str = ""
    engine: str = ""
    competitor: str = ""
    missing_role: str = ""
    atom: str = ""
    fallback: str = ""
    """``1``: only sets whose model output was not used."""
    blocked: str = ""
    """``1``: only sets where the compliance guard blocked a suggestion."""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> SetFilters:
        """From URL parameters (unknown ones ignored); ``ValueError`` naming a bad one."""
        values = {f.name: str(query.get(f.name, "")).strip()[:200] for f in fields(cls)}
        made = cls(**values)
        _day(made.since, "since")
        _day(made.until, "until")
        if made.action and made.action not in FILTER_ACTIONS:
            raise ValueError(f"action: {made.action!r} is not one of {', '.join(FILTER_ACTIONS)}")
        return made

    def query(self, **changes: str) -> dict[str, str]:
        """The non-empty parameters, with ``changes`` applied (for links; ``page`` may be one)."""
        names = {f.name for f in fields(self)}
        own = {k: v for k, v in changes.items() if k in names}
        extra = {k: v for k, v in changes.items() if k not in names and v}
        return {**{k: v for k, v in vars(replace(self, **own)).items() if v}, **extra}

    def window(self) -> tuple[str, str]:
        """[start, end) as ISO text comparable with ``SetRow.at`` ("" = open)."""
        first, last = _day(self.since, "since"), _day(self.until, "until")
        start = datetime(first.year, first.month, first.day, tzinfo=UTC).isoformat() if first else ""
        end = ""
        if last is not None:
            after = last + timedelta(days=1)
            end = datetime(after.year, after.month, after.day, tzinfo=UTC).isoformat()
        return start, end

    def apply(self, rows: Iterable[SetRow], teams: Mapping[str, list[str]]) -> Iterator[SetRow]:
        start, end = self.window()
        team = set(teams.get(self.team, ())) if self.team else None
        for row in rows:
            if (self.rep and row.rep != self.rep) or (team is not None and row.rep not in team):
                continue
            if (start and row.at < start) or (end and row.at >= end):
                continue
            if self.action and (row.action or "pending") != self.action:
                continue
            if self.engine and row.engine != self.engine:
                continue
            if self.competitor and row.competitor != self.competitor:
                continue
            if self.missing_role and self.missing_role not in row.missing_roles:
                continue
            if self.atom and self.atom not in row.atoms:
                continue
            if self.fallback and not row.fallback:
                continue
            if self.blocked and not row.blocked:
                continue
            yield row


def quarter_of(day: date) -> tuple[date, date]:
    """First and last day of ``day``'s calendar quarter."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    nxt = date(day.year + (first_month == 10), (first_month + 2) % 12 + 1, 1)
    return start, nxt - timedelta(days=1)


def _atom_action(row: SetRow, position: int) -> str | None:
    if row.action in ("sent_as_is", "edited") and row.index != position:
        return "dismissed"
    return row.action


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def _figures(counts: Breakdown) -> dict[str, Any]:
    """The report's figures for one group, plus the correction rate (edited + wrote own over acted)."""
    row = counts.as_dict()
    acted = row["shown"] - row["pending"]
    row["acted"] = acted
    row["correction_rate"] = _rate(row["edited"] + row["wrote_own"], acted)
    return row


def _fold(pairs: Counter[tuple[Any, str | None]]) -> dict[Any, Breakdown]:
    groups: dict[Any, Breakdown] = defaultdict(Breakdown)
    for (key, action), count in pairs.items():
        group = groups[key]
        group.shown += count
        if action:
            group.actions[action] += count
    return groups


def _atom_pairs(rows: list[SetRow]) -> Iterator[tuple[str, str | None]]:
    """(atom, action as it counts for that atom) per suggestion that cited it."""
    for row in rows:
        for position, cited in enumerate(row.citations):
            action = _atom_action(row, position)
            for atom in set(cited) if len(cited) > 1 else cited:
                yield atom, action


def dashboard_figures(
    rows: Iterable[SetRow], teams: Mapping[str, list[str]], top: int = 10
) -> dict[str, Any]:
    """Totals, by rep, by team, atoms shown most and adopted least, latency, fallback and blocks."""
    rows = list(rows)
    # Counted as (group, action) pairs by Counter (in C), then folded into Breakdowns.
    total = _fold(Counter((None, row.action) for row in rows))[None]
    by_rep = _fold(Counter((row.rep, row.action) for row in rows))
    atoms = _fold(Counter(_atom_pairs(rows)))
    latencies = [row.latency_ms for row in rows if row.latency_ms is not None]
    fallbacks = sum(1 for row in rows if row.fallback)
    read = sum(1 for row in rows if row.blocked is not None)
    blocked = sum(1 for row in rows if row.blocked)
    total.helpful = sum(row.helpful for row in rows)
    total.not_helpful = sum(row.not_helpful for row in rows)
    team_of = {rep: team for team, reps in teams.items() for rep in reps}
    by_team: dict[str, Breakdown] = defaultdict(Breakdown)
    for rep, counts in by_rep.items():
        team = by_team[team_of.get(rep, "(no team)")]
        team.shown += counts.shown
        team.actions.update(counts.actions)
    atom_rows = {atom: _figures(b) for atom, b in atoms.items()}
    ranked = sorted(atom_rows.items(), key=lambda item: (-item[1]["shown"], item[1]["adoption_rate"] or 0))
    least = sorted(ranked[: top * 3], key=lambda item: (item[1]["adoption_rate"] or 0, -item[1]["shown"]))
    return {
        "ratio_target": RATIO_TARGET,
        "totals": {
            **_figures(total),
            "latency_ms": {
                "p50": _percentile([(ms, 1) for ms in latencies], 50),
                "p95": _percentile([(ms, 1) for ms in latencies], 95),
            },
            "fallback_rate": _rate(fallbacks, total.shown),
            "fallbacks": fallbacks,
            "block_rate": _rate(blocked, read),
            "blocked_sets": blocked,
            "compliance_read": read,
        },
        "by_rep": {rep: _figures(b) for rep, b in sorted(by_rep.items())},
        "by_team": {team: _figures(b) for team, b in sorted(by_team.items())},
        "atoms_shown_most": [{"atom": a, **row} for a, row in ranked[:top]],
        "atoms_adopted_least": [{"atom": a, **row} for a, row in least[:top]],
    }


def weekly_series(rows: Iterable[SetRow]) -> list[dict[str, Any]]:
    """Per ISO week (Monday, UTC): sets, adoption rate and correction rate over sets acted on."""
    weeks: dict[date, Breakdown] = defaultdict(Breakdown)
    week_of: dict[str, date] = {}
    for row in rows:
        text = row.at[:10]
        week = week_of.get(text)
        if week is None:
            day = date.fromisoformat(text)
            week = week_of[text] = day - timedelta(days=day.weekday())
        weeks[week].add(row.action)
    series = []
    for week, counts in sorted(weeks.items()):
        acted = sum(counts.actions.values())
        adopted = counts.actions["sent_as_is"] + counts.actions["edited"]
        corrected = counts.actions["edited"] + counts.actions["wrote_own"]
        series.append(
            {
                "week": week.isoformat(),
                "last_day": (week + timedelta(days=6)).isoformat(),
                "shown": counts.shown,
                "acted": acted,
                "adoption_rate": _rate(adopted, acted),
                "correction_rate": _rate(corrected, acted),
            }
        )
    return series


CSV_COLUMNS = (
    "set_id",
    "shown_at",
    "rep",
    "engine",
    "competitor",
    "missing_roles",
    "fallback",
    "latency_ms",
    "atoms",
    "action",
    "suggestion_index",
    "edit_distance",
    "helpful",
    "not_helpful",
    "blocked",
)


def _csv_cell(value: str) -> str:
    """Text a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def sets_csv(rows: Iterable[SetRow]) -> str:
    """The rows as CSV (one line per set, the columns of the list page)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        values: list[Any] = [
            row.set_id,
            row.at,
            row.rep,
            row.engine,
            row.competitor,
            " ".join(row.missing_roles),
            int(row.fallback),
            "" if row.latency_ms is None else row.latency_ms,
            " ".join(sorted(row.atoms)),
            row.action or "pending",
            "" if row.index is None else row.index,
            "" if row.edit_distance is None else row.edit_distance,
            row.helpful,
            row.not_helpful,
            "" if row.blocked is None else row.blocked,
        ]
        writer.writerow([_csv_cell(v) if isinstance(v, str) else v for v in values])
    return out.getvalue()
