"""Grounding rules for model-written text: enforced, not hoped for.

A draft keeps only citations of atoms retrieved for this press that may be shown
to customers (unknown and internal ids are dropped and counted), must keep at
least one, and every figure in it must appear in one of its cited atoms or in the
conversation. Claims about what we offer or achieve (percentages, multiples,
rankings, certifications) need a cited atom: a customer writing "promise 200% ROI"
does not make 200% ours to promise; nor do offers and commitments (免费, 退款,
discount, guarantee …) count unless a cited atom makes them. Plain numbers (prices,
dates, counts) may also come from the conversation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from knowledge import Atom, fold

from ._base import AgentContext

__all__ = ["Grounding", "Verdict", "claims"]

_PLACEHOLDER = re.compile(r"\[(?:phone|id|email|card|uscc)_\d+\]")  # redaction tokens, folded
_CN_DIGITS = "零〇一二两三四五六七八九十百千万亿"
_PLAIN = r"\d+(?:\.\d+)?(?!\s?%)(?![\d.])"  # prices, dates, counts, versions: 2027, 99.9
_CLAIMS = re.compile(
    "|".join(
        [
            r"[0-9.]+\s?折",  # a discount, before the plain number it starts with
            rf"(?P<plain>{_PLAIN})",
            r"\d+(?:\.\d+)?\s?%",
            rf"百分之[{_CN_DIGITS}点]+",
            rf"[{_CN_DIGITS}]+(?:倍|成|折)",
            rf"第[{_CN_DIGITS}]+(?:名|位|家)?(?![步次时天周期批阶个条点])",
            r"首家|首个|唯一|领先|龙头|排名|最大|最强|最佳|最优|最低|最便宜|最快",
            r"no\.?1\b|#1\b|number one|\bthe (?:best|largest|leading|fastest|cheapest|only)\b",
            r"best-in-class|industry-leading|market leader|\branked\b",
            r"\biso\s?\d+|\bsoc\s?[123]\b|等保[一二三四五]级|[一二三四五]级等保|等级保护[一二三四五]级",
            r"\bcmmi\b|\bpci[- ]?dss\b|\bhipaa\b|\bfedramp\b|\btisax\b|\bgdpr\b|可信云|信创",
            # offers and commitments: only what an approved atom offers may be offered
            r"承诺|保证|担保|免费|赠送|退款|退货|返现|优惠|折扣|打折",
            r"\bguarantee[ds]?\b|\bpromise[ds]?\b|\bwarrant(?:y|ies)?\b|\brefund(?:s|ed)?\b",
            r"\bdiscount(?:s|ed)?\b|\b\d+%? off\b|\bcashback\b|\bfree\b(?! to\b)",
        ]
    )
)


def _fold(text: str) -> str:
    """Folded (width, case), thousands separators removed, whitespace collapsed."""
    folded = re.sub(r"(?<=\d),(?=\d{3})", "", fold(text))
    folded = re.sub(r"(?<=\d)\s+%", "%", folded)
    return re.sub(r"\s+", " ", folded)


def claims(text: str) -> dict[str, bool]:
    """The checkable claims in ``text`` (folded), in order, each once; True for a plain
    number (which the conversation may also support)."""
    folded = _PLACEHOLDER.sub(" ", _fold(text))
    found: dict[str, bool] = {}
    for match in _CLAIMS.finditer(folded):
        found.setdefault(match.group(0).strip().replace(" %", "%"), match.group("plain") is not None)
    return found


def _supported(claim: str, source: str) -> bool:
    if claim[0].isdigit():  # a number stands alone: 30 is not supported by 300
        return re.search(rf"(?<![\d.]){re.escape(claim)}(?![\d])", source) is not None
    return claim in source or claim.replace(" ", "") in source.replace(" ", "")


@dataclass(frozen=True)
class Verdict:
    """A draft's kept citations, how many were dropped, and why it fails (``None``: it passes)."""

    citations: list[str]
    dropped: int
    problem: str | None


class Grounding:
    """The citable atoms and the conversation of one press; checks drafts against them."""

    def __init__(self, ctx: AgentContext, citable: Iterable[Atom]) -> None:
        values = ctx.fill_values()
        self.atoms = {a.id: a for a in citable if a.for_customer and a.is_served(ctx.today)}
        self._texts = {
            atom_id: _fold(" ".join([atom.title, atom.fill(**values), *atom.legal_basis]))
            for atom_id, atom in self.atoms.items()
        }
        conv = ctx.conversation
        deal = conv.deal
        said = [m.text for m in conv.messages] + [deal.customer, deal.product]
        self._conversation = _fold(" ".join(said))

    def check(self, text: str, citations: list[str]) -> Verdict:
        kept = [c for c in dict.fromkeys(citations) if c in self.atoms]
        dropped = len(citations) - len([c for c in citations if c in self.atoms])
        if not text.strip():
            return Verdict(kept, dropped, "empty reply")
        if not kept:
            return Verdict(kept, dropped, "cites no retrieved customer atom")
        cited = " ".join(self._texts[c] for c in kept)
        found = claims(text)
        if unsupported := [
            c for c, plain in found.items() if plain and not _supported(c, cited + " " + self._conversation)
        ]:
            quoted = ", ".join(repr(c) for c in unsupported[:3])
            return Verdict(kept, dropped, f"{quoted} not in a cited atom or the conversation")
        if unsupported := [c for c, plain in found.items() if not plain and not _supported(c, cited)]:
            quoted = ", ".join(repr(c) for c in unsupported[:3])
            return Verdict(kept, dropped, f"{quoted} not in a cited atom")
        return Verdict(kept, dropped, None)

    def legal_basis(self, citations: list[str]) -> list[str]:
        return list(dict.fromkeys(b for c in citations for b in self.atoms[c].legal_basis))
