"""Competitor agent: spots a named competitor and returns the approved battlecard answer.

Aliases match on an NFKC + casefold copy of the text. Latin aliases ("StarMap",
"Panshi Cloud") must stand as words. Chinese aliases of three or more characters
(极光数仓, 磐石云) match anywhere. A Chinese alias of one or two characters is also an
everyday word (磐石 "bedrock", 极光 "aurora", 星图 "star chart"), so it counts only
when its clause also carries a vendor or comparison cue (``_CUES``: 那边, 报价, 方案,
比你们 …) and it is not part of a known word or idiom (``_NOT_A_NAME``: 坚如磐石, 卫星图 …).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from copilot import CompetitorResponse
from knowledge import CJK, CLAUSE_END, Atom, clauses, fold, plain_text

from ._base import AgentContext

__all__ = ["CompetitorAgent", "CompetitorMatcher"]

# Words that, in the same clause as a short Chinese alias, show that a vendor is meant:
# who (那边, 他们, 家的), what (产品, 方案, 报价), how it compares (便宜, 比你们), what the
# customer does with it (也在谈, 用的是), and product categories (数仓, 云, MES).
_CUES = (
    "那边", "那家", "家的", "他们", "对方", "公司", "厂商", "厂家", "供应商", "品牌",
    "产品", "系统", "平台", "方案", "软件", "服务", "实施", "团队", "案例",
    "报价", "价格", "价钱", "费用", "便宜", "更低", "低了", "更贵", "折扣", "优惠", "免费",
    "演示", "试用", "对比", "比较", "比你们", "比您", "选型", "评估", "考察",
    "也在谈", "在谈", "接触", "合作", "签约", "用的是", "在用", "替换",
    "数仓", "云", "mes", "erp", "crm", "poc", "demo",
)  # fmt: skip
# Words and idioms that contain a short alias but name no vendor.
_NOT_A_NAME = ("坚如磐石", "稳如磐石", "安如磐石", "磐石般", "像磐石一样", "卫星图", "北极光", "南极光")
_CUE = re.compile("|".join(rf"(?<![a-z0-9]){c}(?![a-z0-9])" if c.isascii() else c for c in _CUES))
_LATIN = "a-z0-9\u00c0-\u024f"
_SHORT = 2


@functools.lru_cache(maxsize=32)
def _cached_matcher(names: tuple[tuple[str, str], ...]) -> CompetitorMatcher:
    matcher = CompetitorMatcher([])
    matcher._compile(dict(names))
    return matcher


@dataclass(frozen=True)
class _Hit:
    canonical: str
    message: int
    claim: str


class CompetitorMatcher:
    """Finds competitor names and aliases (any language, case- and width-insensitive)."""

    def __init__(self, battlecards: list[Atom]) -> None:
        self._compile({name: card.canonical_competitor for card in battlecards for name in card.competitors})

    @classmethod
    def for_cards(cls, battlecards: list[Atom]) -> CompetitorMatcher:
        """The matcher for these battlecards, compiled once per distinct set of names
        (presses share the catalogue, so they share its matcher)."""
        return _cached_matcher(
            tuple((name, card.canonical_competitor) for card in battlecards for name in card.competitors)
        )

    @classmethod
    def of_names(cls, names: Iterable[str]) -> CompetitorMatcher:
        """A matcher for bare names, each its own canonical name (the compliance guard's)."""
        matcher = cls([])
        matcher._compile({name.strip(): name.strip() for name in names if name.strip()})
        return matcher

    def _compile(self, names: dict[str, str]) -> None:
        aliases: dict[str, str] = {}
        for name, canonical in names.items():
            aliases.setdefault(fold(name), canonical)
        ordered = sorted(aliases, key=len, reverse=True)
        self._canonical = aliases
        self._pattern = re.compile("|".join(_alias_pattern(a) for a in ordered)) if ordered else None

    def find(self, text: str) -> str | None:
        """The canonical name of the first competitor ``text`` names, if any."""
        if self._pattern is None:
            return None
        folded = fold(text)
        pos = 0
        while (match := self._pattern.search(folded, pos)) is not None:
            if _names_a_vendor(folded, match.start(), match.end()):
                return self._canonical[match.group(0)]
            pos = match.start() + 1
        return None


def _alias_pattern(alias: str) -> str:
    escaped = re.escape(alias)
    if CJK.search(alias):
        return escaped
    return rf"(?<![{_LATIN}]){escaped}(?![{_LATIN}])"


def _names_a_vendor(folded: str, start: int, end: int) -> bool:
    """A short Chinese alias needs a cue in its clause and must not sit inside a known word."""
    alias = folded[start:end]
    if len(alias) > _SHORT or not CJK.search(alias):
        return True
    for word in _NOT_A_NAME:
        at = word.find(alias)
        while at >= 0:
            if start >= at and folded.startswith(word, start - at):
                return False
            at = word.find(alias, at + 1)
    begin = max((m.end() for m in CLAUSE_END.finditer(folded, 0, start)), default=0)
    stop = CLAUSE_END.search(folded, end)
    clause = folded[begin:start] + "\0" + folded[end : stop.start() if stop else len(folded)]
    return _CUE.search(clause) is not None


class CompetitorAgent:
    """Looks at the customer's messages, newest first, for a named competitor."""

    name = "competitor"

    async def run(self, ctx: AgentContext) -> CompetitorResponse | None:
        cards = ctx.retrieval.battlecards
        matcher = CompetitorMatcher.for_cards(cards)
        hit = _latest_mention(ctx, matcher)
        if hit is None:
            return None
        mine = [c for c in cards if c.canonical_competitor == hit.canonical]
        card = min(mine, key=lambda c: (c.language != ctx.language, c.id))
        return CompetitorResponse(
            name=hit.canonical,
            claim=plain_text(hit.claim),
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
