"""Competitor agent: spots a named competitor and returns the approved battlecard answer."""

from __future__ import annotations

import re
from dataclasses import dataclass

from copilot._models import CompetitorResponse
from knowledge import Atom, clauses, normalize

from ._base import AgentContext

__all__ = ["CompetitorAgent", "CompetitorMatcher"]


@dataclass(frozen=True)
class _Hit:
    canonical: str
    message: int
    claim: str


class CompetitorMatcher:
    """Finds competitor names and aliases (any language, case- and width-insensitive)."""

    def __init__(self, battlecards: list[Atom]) -> None:
        aliases: dict[str, str] = {}
        for card in battlecards:
            for name in card.competitors:
                aliases.setdefault(normalize(name), card.canonical_competitor)
        ordered = sorted(aliases, key=len, reverse=True)
        self._canonical = aliases
        self._pattern = re.compile("|".join(_alias_pattern(a) for a in ordered)) if ordered else None

    def find(self, text: str) -> str | None:
        """The canonical name of the first competitor ``text`` names, if any."""
        if self._pattern is None:
            return None
        match = self._pattern.search(normalize(text))
        return self._canonical[match.group(0)] if match else None


def _alias_pattern(alias: str) -> str:
    escaped = re.escape(alias)
    if alias.isascii():
        return rf"(?<![a-z0-9]){escaped}(?![a-z0-9])"
    return escaped


class CompetitorAgent:
    """Looks at the customer's messages, newest first, for a named competitor."""

    name = "competitor"

    async def run(self, ctx: AgentContext) -> CompetitorResponse | None:
        cards = ctx.retrieval.battlecards
        matcher = CompetitorMatcher(cards)
        hit = _latest_mention(ctx, matcher)
        if hit is None:
            return None
        mine = [c for c in cards if c.canonical_competitor == hit.canonical]
        card = min(mine, key=lambda c: (c.language != ctx.language, c.id))
        return CompetitorResponse(
            name=hit.canonical,
            claim=hit.claim,
            response=card.fill(**ctx.fill_values()),
            citations=[card.id],
        )


def _latest_mention(ctx: AgentContext, matcher: CompetitorMatcher) -> _Hit | None:
    for index, text in reversed(ctx.customer_messages()):
        for clause in clauses(text):
            name = matcher.find(clause)
            if name:
                return _Hit(name, index, clause)
    return None
