"""The managers' review: adoption against manual correction, by rep, agent, engine, atom.

Definitions (one suggestion set = one Suggest press):

- *adopted*: the rep sent a suggestion, as is or edited (``sent_as_is + edited``);
  the adoption rate is adopted / sets with a final action.
- *adoption : correction*: ``sent_as_is : (edited + wrote_own)``, the product's
  target is at least 3 : 1 (``ratio_target``).
- *helpfulness*: helpful feedback / all feedback.
- latency p50/p95 and the fallback rate are over the sets shown.

Built over the compact facts rows (see ``_facts``), never over the JSON bodies;
a store collapses them in SQL first (``Summary``), so a million events report
in about a second.
"""

from __future__ import annotations

import functools
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from ._events import iso_utc
from ._facts import Fact

__all__ = ["ACTIONS", "RATIO_TARGET", "Breakdown", "Summary", "build_report", "summarize"]

ACTIONS = ("sent_as_is", "edited", "dismissed", "wrote_own", "ignored")
RATIO_TARGET = 3.0
RARELY_ADOPTED = 0.2
_parsed = functools.lru_cache(maxsize=8192)(json.loads)  # the same few role/citation lists recur
OFTEN_SHOWN = 5


class Summary(NamedTuple):
    """The facts of a window, collapsed: what ``build_report`` adds up.

    ``sets``: (actor, engine, prompts, competitor, missing_roles, citations,
    fallback, action, idx, count) per distinct combination of a set shown and its
    final action; ``latencies``: (latency_ms, count); ``feedback``: (actor, engine,
    prompts, competitor, missing_roles, atom_id, helpful, count). A store's
    ``facts()`` can have its database collapse them (``summary``), so a million
    events never cross into Python one by one.
    """

    sets: list[tuple[Any, ...]]
    latencies: list[tuple[float, int]]
    feedback: list[tuple[Any, ...]]


@dataclass
class Breakdown:
    """Counts for one group of sets (a rep, an engine, an atom …)."""

    shown: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    helpful: int = 0
    not_helpful: int = 0

    def add(self, action: str | None, count: int = 1) -> None:
        self.shown += count
        if action:
            self.actions[action] += count

    def as_dict(self) -> dict[str, Any]:
        acted = sum(self.actions.values())
        adopted = self.actions["sent_as_is"] + self.actions["edited"]
        corrected = self.actions["edited"] + self.actions["wrote_own"]
        ratio = None if corrected == 0 else round(self.actions["sent_as_is"] / corrected, 2)
        feedback = self.helpful + self.not_helpful
        return {
            "shown": self.shown,
            **{name: self.actions[name] for name in ACTIONS},
            "pending": self.shown - acted,
            "adoption_rate": None if acted == 0 else round(adopted / acted, 4),
            "adoption_to_correction": ratio,
            "meets_target": None if ratio is None else ratio >= RATIO_TARGET,
            "helpful": self.helpful,
            "not_helpful": self.not_helpful,
            "helpfulness": None if feedback == 0 else round(self.helpful / feedback, 4),
        }


@dataclass
class _Set:
    fact: Fact
    action: str | None = None
    idx: int | None = None


def _percentile(values: list[tuple[float, int]], pct: float) -> float | None:
    """The nearest-rank percentile of (value, count) pairs."""
    total = sum(count for _, count in values)
    if not total:
        return None
    rank = min(total - 1, max(0, round(pct / 100 * total + 0.5) - 1))
    seen = 0
    for value, count in sorted(values):
        seen += count
        if seen > rank:
            return round(value, 2)
    raise AssertionError("unreachable: rank < total")


def _collect(
    facts: Iterable[Fact], since: str, until: str, reps: set[str] | None
) -> tuple[dict[str, _Set], list[Fact]]:
    sets: dict[str, _Set] = {}
    feedback: list[Fact] = []
    for fact in facts:
        if fact.type == "suggestion_shown":
            if fact.at >= since and (not until or fact.at < until) and (reps is None or fact.actor in reps):
                sets[fact.set_id] = _Set(fact)
        elif fact.type == "rep_action":
            entry = sets.get(fact.set_id)
            if entry is not None and entry.action is None:
                entry.action, entry.idx = fact.action, fact.idx
        elif fact.type == "feedback" and fact.set_id in sets:
            feedback.append(fact)
    return sets, feedback


def summarize(facts: Iterable[Fact], since: str, until: str, reps: set[str] | None) -> Summary:
    """``Summary`` of plain facts, in Python (what a store's ``summary`` does in SQL)."""
    sets, feedback = _collect(facts, since, until, reps)
    rows: Counter[tuple[Any, ...]] = Counter()
    latencies: Counter[float] = Counter()
    for entry in sets.values():
        f = entry.fact
        rows[
            f.actor,
            f.engine,
            f.prompts,
            f.competitor,
            f.missing_roles,
            f.citations,
            f.fallback,
            entry.action,
            entry.idx,
        ] += 1
        if f.latency_ms is not None:
            latencies[f.latency_ms] += 1
    notes: Counter[tuple[Any, ...]] = Counter()
    for fact in feedback:
        s = sets[fact.set_id].fact
        notes[s.actor, s.engine, s.prompts, s.competitor, s.missing_roles, fact.atom_id, fact.helpful] += 1
    return Summary(
        [(*key, n) for key, n in rows.items()],
        list(latencies.items()),
        [(*key, n) for key, n in notes.items()],
    )


@functools.lru_cache(maxsize=8192)
def _groups(
    actor: str, engine: str, prompts: str, competitor: str, missing: str
) -> tuple[tuple[str, str], ...]:
    keys = [("rep", actor or "?"), ("engine", engine or "?")]
    names = [p for p in prompts.split(",") if p]
    keys += [("agent", p.split("@", 1)[0]) for p in names]
    keys += [("prompt_version", p) for p in names]
    keys.append(("competitor", competitor or "(none)"))
    keys += [("missing_role", role) for role in _parsed(missing)]
    return tuple(keys)


def build_report(
    facts: Iterable[Fact],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    reps: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The review of the sets shown in ``[since, until)``, optionally to ``reps`` only.

    ``facts`` is any iterable of ``Fact``; given a store's ``facts()``, the
    database collapses them first (same figures, a million events in about a second).
    """
    start, end = (iso_utc(since) if since else ""), (iso_utc(until) if until else "")
    chosen = None if reps is None else set(reps)
    in_database = getattr(facts, "summary", None)
    summary = in_database(start, end, chosen) if callable(in_database) else None
    if not isinstance(summary, Summary):
        summary = summarize(facts, start, end, chosen)
    total = Breakdown()
    groups: dict[str, dict[str, Breakdown]] = defaultdict(lambda: defaultdict(Breakdown))
    atoms: dict[str, Breakdown] = defaultdict(Breakdown)
    fallbacks = 0
    for actor, engine, prompts, competitor, missing, cited_json, fallback, action, idx, n in summary.sets:
        total.add(action, n)
        for dimension, key in _groups(actor, engine, prompts, competitor, missing):
            groups[dimension][key].add(action, n)
        citations: list[list[str]] = _parsed(cited_json)
        used = action in ("sent_as_is", "edited")
        for position, cited in enumerate(citations):
            shown_as = "dismissed" if used and idx != position else action
            for atom in set(cited):
                atoms[atom].add(shown_as, n)
        fallbacks += fallback * n
    for actor, engine, prompts, competitor, missing, atom_id, helpful, n in summary.feedback:
        targets = [total, *(groups[d][k] for d, k in _groups(actor, engine, prompts, competitor, missing))]
        targets += [atoms[atom_id]] if atom_id else []
        for target in targets:
            target.helpful += n if helpful == 1 else 0
            target.not_helpful += n if helpful == 0 else 0
    latency = {"p50": _percentile(summary.latencies, 50), "p95": _percentile(summary.latencies, 95)}
    return _assemble(total, groups, atoms, latency, fallbacks, start, end)


def _assemble(
    total: Breakdown,
    groups: dict[str, dict[str, Breakdown]],
    atoms: dict[str, Breakdown],
    latency: dict[str, float | None],
    fallbacks: int,
    start: str,
    end: str,
) -> dict[str, Any]:
    atom_rows = {atom: b.as_dict() for atom, b in sorted(atoms.items())}
    rarely = [
        {"atom": atom, "shown": row["shown"], "adoption_rate": row["adoption_rate"]}
        for atom, row in atom_rows.items()
        if row["shown"] >= OFTEN_SHOWN and (row["adoption_rate"] or 0) < RARELY_ADOPTED
    ]
    rarely.sort(key=lambda r: -int(r["shown"]))
    return {
        "window": {"since": start or None, "until": end or None},
        "ratio_target": RATIO_TARGET,
        "totals": {
            **total.as_dict(),
            "latency_ms": latency,
            "fallback_rate": None if total.shown == 0 else round(fallbacks / total.shown, 4),
        },
        "by": {
            dimension: {key: b.as_dict() for key, b in sorted(rows.items())}
            for dimension, rows in sorted(groups.items())
        },
        "atoms": atom_rows,
        "shown_often_adopted_rarely": rarely,
    }
