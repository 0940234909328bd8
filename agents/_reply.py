"""Reply agent (grounded): reply candidates composed from approved atoms, each cited."""

from __future__ import annotations

from copilot._models import Suggestion
from knowledge import ScoredAtom, normalize

from ._base import AgentContext

__all__ = ["ReplyAgent"]


class ReplyAgent:
    """Ranks the retrieved script, objection, product, case and policy atoms and
    fills their placeholders from the deal. Returns more candidates than are shown
    (``candidates``) so the compliance guard can drop one and three still remain."""

    name = "reply"

    def __init__(self, candidates: int = 6) -> None:
        self.candidates = candidates

    async def run(self, ctx: AgentContext) -> list[Suggestion]:
        ranked = _same_language_first(ctx.retrieval.candidates, ctx.language)
        values = ctx.fill_values()
        seen: set[str] = set()
        out: list[Suggestion] = []
        for scored in ranked:
            atom = scored.atom
            if not atom.is_served(ctx.today):
                continue  # the store filters too; never cite what may not be served
            text = atom.fill(**values)
            key = normalize(text)
            if key in seen:
                continue
            seen.add(key)
            out.append(Suggestion(text=text, citations=[atom.id], legal_basis=list(atom.legal_basis)))
            if len(out) == self.candidates:
                break
        return out


def _same_language_first(candidates: list[ScoredAtom], language: str) -> list[ScoredAtom]:
    """Keep the retriever's order, but replies in the chat's language come first;
    the other language only fills a gap."""
    same = [c for c in candidates if c.atom.language == language]
    other = [c for c in candidates if c.atom.language != language]
    return same + other
