"""One retrieval per Suggest press: it feeds every agent."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from ._atom import REPLY_TYPES, Atom
from ._store import AtomStore, ScoredAtom, StoreFilter

__all__ = ["Retrieval", "Retriever"]

CATALOG_TYPES = ("competitor", "playbook")


@dataclass(frozen=True)
class Retrieval:
    """What the agents get: ranked reply candidates plus the served catalogue
    (battlecards and playbooks, matched exactly by name and industry, not by similarity)."""

    candidates: list[ScoredAtom]
    battlecards: list[Atom]
    playbooks: list[Atom]
    timings_ms: dict[str, float] = field(default_factory=dict)

    def atom_versions(self) -> dict[str, int]:
        atoms = [c.atom for c in self.candidates] + self.battlecards + self.playbooks
        return {a.id: a.version for a in atoms}


class Retriever:
    """Queries the atom store; keeps the small catalogue of battlecards and
    playbooks in memory for ``catalog_ttl_s`` seconds, so an ingest by another
    process is seen within that time."""

    def __init__(
        self,
        store: AtomStore,
        *,
        k: int = 12,
        language_bonus: float = 0.02,
        industry_bonus: float = 0.05,
        catalog_ttl_s: float = 60.0,
    ) -> None:
        self.store = store
        self.k = k
        self.language_bonus = language_bonus
        self.industry_bonus = industry_bonus
        self.catalog_ttl_s = catalog_ttl_s
        self._lock = threading.Lock()
        self._catalog: tuple[float, date, list[Atom]] | None = None

    def catalog(self, today: date) -> list[Atom]:
        with self._lock:
            now = time.monotonic()
            cached = self._catalog
            if cached and cached[1] == today and now - cached[0] < self.catalog_ttl_s:
                return cached[2]
            atoms = self.store.atoms(StoreFilter(types=CATALOG_TYPES, served_on=today))
            self._catalog = (now, today, atoms)
            return atoms

    def retrieve(
        self, text: str | Sequence[str], *, language: str, industry: str, stage: str, today: date
    ) -> Retrieval:
        """Reply candidates for ``text`` (one string, or messages newest first), ranked
        by similarity plus a bonus for the chat's language and for atoms written for
        the deal's industry; and the served catalogue."""
        started = time.perf_counter()
        where = StoreFilter(types=REPLY_TYPES, industry=industry or None, stage=stage, served_on=today)
        found = self.store.query(text, where, self.k)
        queried = time.perf_counter()
        ranked = sorted(found, key=lambda s: -self._score(s, language, industry))
        catalog = self.catalog(today)
        battlecards = [a for a in catalog if a.type == "competitor"]
        playbooks = [a for a in catalog if a.type == "playbook"]
        timings = {
            "query": (queried - started) * 1000,
            "catalog": (time.perf_counter() - queried) * 1000,
        }
        return Retrieval(ranked, battlecards, playbooks, timings)

    def _score(self, scored: ScoredAtom, language: str, industry: str) -> float:
        atom = scored.atom
        bonus = self.language_bonus if atom.language == language else 0.0
        if industry and industry in atom.industries:
            bonus += self.industry_bonus
        return scored.similarity + bonus
