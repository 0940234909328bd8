"""Discount offers in text: N折 pays N/10 of the price, so 八五折 is 15% off.

Used by the compliance guard's ``discount-over-limit`` rule. Works on folded
text (NFKC + casefold) and returns offsets into it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from knowledge import CLAUSE_END

__all__ = ["negated", "offers"]

_E = r"(?![a-z0-9])"  # ASCII word end: \b would treat CJK as word characters

_CN_DIGIT = {ch: i for i, ch in enumerate("零一二三四五六七八九")}
_ZHE = re.compile(
    r"(?:(?<![0-9.])(?P<z>[0-9]\.[0-9]|[1-9][0-9]?)\s?|(?<![一二三四五六七八九十百千万零〇])"
    r"(?P<a>[一二三四五六七八九])点?(?P<b>[一二三四五六七八九])?)\Z"
)
_HALF = re.compile(r"半价|对折|half(?<![a-z0-9]half)[- ](?:price|off)" + _E)
_CN_PERCENT = "百分之(?P<c>[一二三四五六七八九]?十[一二三四五六七八九]?|[一二三四五六七八九])"
_PERCENT = re.compile(r"[0-9]++(?:\.[0-9]+)?\s?(?:%|percent" + _E + ")|" + _CN_PERCENT)
_OFFER_BEFORE = re.compile(
    r"(?:(?:优惠|降价|便宜|折扣|让利|减价|直降|立减|打折)[^0-9，。！？；,!?;\n]{0,4}"
    r"|(?<![a-z])(?:discount|price\s+(?:cut|reduction)|markdown)\s+of\s+(?:up\s+to\s+|about\s+)?"
    r"|(?<![a-z])(?:reduc|cut|lower|drop|discount)[a-z]*\s+(?:the\s+|our\s+|your\s+)?(?:prices?|quote|fees?"
    r"|licen[cs]e\s+fees?)\s+by\s+(?:up\s+to\s+)?)\Z"
)
_OFFER_AFTER = re.compile(
    r"\s?的?(?:优惠|折扣|让利|降价|减免)|\s+(?:off|discount|price\s+(?:cut|reduction))" + _E
)
_NEGATION = re.compile(
    r"不能|无法|没法|不会|给不了|做不到|不可能|不支持|不提供|不接受|(?<![a-z])(?:can[’']t|cannot|can\s+not"
    r"|unable|not\s+able|won[’']t|will\s+not|do\s+not|don[’']t|not\s+possible|not\s+offer)" + _E
)
_STACK = re.compile(  # an extra on top of an offer in the same sentence, up to its amount
    r"[^。！？!?;.\n]{0,12}?(?:再|另外|额外|叠加|additional|extra|further|another)"
    r"[^0-9一二三四五六七八九。！？!?;.\n]{0,6}?(?=[0-9一二三四五六七八九]|百分之)"
)
_AMOUNT = re.compile(
    rf"(?P<p>[0-9]+(?:\.[0-9]+)?)\s?(?:%|percent{_E}|个点)|{_CN_PERCENT}|[0-9.]{{1,3}}\s?折|[一二三四五六七八九点]{{1,3}}折"
)
_CUT = re.compile(r"降(?!低)|减(?!少)|价|优惠|让|便宜|折扣|打|off|discount|cut|reduc|lower")


def _cn_number(s: str) -> float:
    tens, ten, ones = s.partition("十")
    return float((_CN_DIGIT[tens] if tens else 1) * 10 + _CN_DIGIT.get(ones, 0) if ten else _CN_DIGIT[tens])


def _zhe(folded: str, at: int) -> tuple[int, float] | None:
    """(start, percent off) of the N折 whose 折 is at ``at``, if it is one."""
    n = _ZHE.search(folded, max(0, at - 4), at)
    if n is None or folded.startswith(("折旧", "折合", "折算", "折叠"), at):
        return None
    if z := n["z"]:
        return n.start(), 100 - (10 * float(z) if "." in z or len(z) == 1 else float(z))
    return n.start(), 100 - 10 * _CN_DIGIT[n["a"]] - (_CN_DIGIT[n["b"]] if n["b"] else 0)


def _extra(folded: str, end: int) -> tuple[int, float] | None:
    """(end, percent off) of an extra discount stacked on an offer ending at ``end``."""
    m = _STACK.match(folded, end)
    if m is None or _NEGATION.search(folded, end, m.end()) or not (amount := _AMOUNT.match(folded, m.end())):
        return None
    if amount.group(0).endswith("折"):
        zhe = _zhe(folded, amount.end() - 1)
        return (amount.end(), zhe[1]) if zhe else None
    after = _OFFER_AFTER.match(folded, amount.end())
    off = float(amount["p"]) if amount["p"] else _cn_number(amount["c"])
    return (after.end() if after else amount.end(), off) if after or _CUT.search(m.group(0)) else None


def offers(folded: str) -> Iterator[tuple[int, int, float]]:
    """(start, end, percent off) of every discount the text offers, refusals included; extras in
    the same sentence multiply (八五折以后再降5% pays 0.85 × 0.95: 19.25% off)."""
    offers = [(m.start(), m.end(), 50.0) for m in _HALF.finditer(folded)]
    offers += [(z[0], m.end(), z[1]) for m in re.finditer("折", folded) if (z := _zhe(folded, m.start()))]
    for m in _PERCENT.finditer(folded):
        before = _OFFER_BEFORE.search(folded, max(0, m.start() - 40), m.start())
        after = _OFFER_AFTER.match(folded, m.end())
        if before or after:
            off = _cn_number(m["c"]) if m["c"] else float(re.sub(r"[^0-9.]", "", m.group(0)))
            offers.append((before.start() if before else m.start(), after.end() if after else m.end(), off))
    for start, end, off in offers:
        while (extra := _extra(folded, end)) is not None:
            end, more = extra
            off = 100 - (100 - off) * (100 - more) / 100
        yield start, end, off


def negated(folded: str, start: int) -> bool:
    """A refusal ("无法给到五折", "we can't offer 30% off") is not an offer."""
    return _NEGATION.search(CLAUSE_END.split(folded[max(0, start - 20) : start])[-1]) is not None
