"""The managers' review: adoption against manual correction, by rep, agent, engine, atom.

Definitions (one suggestion set = one Suggest press):

- *adopted*: the rep sent a suggestion, as is or edited (``sent_as_is + edited``);
  the adoption rate is adopted / sets with a final action.
- *adoption : correction*: ``sent_as_is : (edited + wrote_own)``, the product's
  target is at least 3 : 1 (``ratio_target``).
- *helpfulness*: helpful feedback / all feedback.
- latency p50/p95 and the fallback rate are over the sets shown.

Built in one pass over the compact facts rows (see ``_facts``), never over the
JSON bodies, so a million events report in about a second.
"""

from __future__ import annotations

import functools
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ._events import iso_utc
from ._facts import Fact

__all__ = ["ACTIONS", "RATIO_TARGET", "Breakdown", "build_report"]

ACTIONS = ("sent_as_is", "edited", "dismissed", "wrote_own", "ignored")
RATIO_TARGET = 3.0
RARELY_ADOPTED = 0.2
_parsed = functools.lru_cache(maxsize=8192)(json.loads)  # the same few role/citation lists recur
OFTEN_SHOWN = 5


@dataclass
class Breakdown:
    """Counts for one group of sets (a rep, an engine, an atom …)."""

    shown: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    helpful: int = 0
    not_helpful: int = 0

    def add(self, action: str | None) -> None:
        self.shown += 1
        if action:
            self.actions[action] += 1

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


def _percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    values.sort()
    rank = min(len(values) - 1, max(0, round(pct / 100 * len(values) + 0.5) - 1))
    return round(values[rank], 2)


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


def _groups(entry: _Set) -> list[tuple[str, str]]:
    fact = entry.fact
    keys = [("rep", fact.actor or "?"), ("engine", fact.engine or "?")]
    prompts = [p for p in fact.prompts.split(",") if p]
    keys += [("agent", p.split("@", 1)[0]) for p in prompts]
    keys += [("prompt_version", p) for p in prompts]
    keys.append(("competitor", fact.competitor or "(none)"))
    keys += [("missing_role", role) for role in _parsed(fact.missing_roles)]
    return keys


def build_report(
    facts: Iterable[Fact],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    reps: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The review of the sets shown in ``[since, until)``, optionally to ``reps`` only."""
    start, end = (iso_utc(since) if since else ""), (iso_utc(until) if until else "")
    sets, feedback = _collect(facts, start, end, None if reps is None else set(reps))
    total = Breakdown()
    groups: dict[str, dict[str, Breakdown]] = defaultdict(lambda: defaultdict(Breakdown))
    atoms: dict[str, Breakdown] = defaultdict(Breakdown)
    latencies: list[float] = []
    fallbacks = 0
    for entry in sets.values():
        total.add(entry.action)
        for dimension, key in _groups(entry):
            groups[dimension][key].add(entry.action)
        citations: list[list[str]] = _parsed(entry.fact.citations)
        for position, cited in enumerate(citations):
            used = entry.action in ("sent_as_is", "edited")
            action = "dismissed" if used and entry.idx != position else entry.action
            for atom in set(cited):
                atoms[atom].add(action)
        if entry.fact.latency_ms is not None:
            latencies.append(entry.fact.latency_ms)
        fallbacks += entry.fact.fallback
    for fact in feedback:
        entry = sets[fact.set_id]
        targets = [total, *(groups[d][k] for d, k in _groups(entry))]
        targets += [atoms[fact.atom_id]] if fact.atom_id else []
        for target in targets:
            target.helpful += fact.helpful == 1
            target.not_helpful += fact.helpful == 0
    return _assemble(total, groups, atoms, latencies, fallbacks, start, end)


def _assemble(
    total: Breakdown,
    groups: dict[str, dict[str, Breakdown]],
    atoms: dict[str, Breakdown],
    latencies: list[float],
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
            "latency_ms": {"p50": _percentile(latencies, 50), "p95": _percentile(latencies, 95)},
            "fallback_rate": None if total.shown == 0 else round(fallbacks / total.shown, 4),
        },
        "by": {
            dimension: {key: b.as_dict() for key, b in sorted(rows.items())}
            for dimension, rows in sorted(groups.items())
        },
        "atoms": atom_rows,
        "shown_often_adopted_rarely": rarely,
    }
