"""Compliance guard: every text shown to a rep is checked first, then repaired or blocked.

Only our own outputs are checked (suggestions, the competitor response), never
customer text. Matching runs on an NFKC + casefold copy of the text, so case and
full-width forms do not matter; repairs are applied to the original text through
an index map. Blocking rules run first; a blocked text is returned as ``None``
and is never repaired. Otherwise PII is replaced by placeholders, then the
wording rules repair the text until no banned term remains (at most 3 rounds).
Every pattern is precompiled and runs only when one of its literal keys occurs in
the text, so a clean 500-character text is checked in well under a millisecond.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from copilot._models import ComplianceVerdict
from copilot._redact import Redactor, find_pii

__all__ = ["RULES", "ComplianceGuard", "GuardResult", "Rule"]


@dataclass(frozen=True)
class Rule:
    """One row of the rule table; ``id`` and ``basis`` appear in every verdict."""

    id: str
    basis: str
    action: Literal["repaired", "blocked"]
    description: str


RULES: tuple[Rule, ...] = (
    Rule("ad-law-superlative", "《广告法》第九条", "repaired",
         "absolute claims (最好, 第一, 唯一, best, No. 1, the only) are replaced by neutral wording"),
    Rule("guarantee", "《广告法》第四条", "repaired",
         "promises of certain results (保证, 100%, 绝对, guaranteed, risk-free) are softened"),
    Rule("discount-over-limit", "《云枢科技价格授权制度》第3条", "blocked",
         "an offered discount above the authorised maximum blocks the text"),
    Rule("competitor-disparagement", "《反不正当竞争法》第十一条", "blocked",
         "a disparaging word in a sentence about a competitor blocks the text"),
    Rule("pii", "《个人信息保护法》第十三条", "repaired",
         "personal information is replaced by placeholders such as [PHONE_1]"),
)
_RULES = {rule.id: rule for rule in RULES}
_MAX_ROUNDS = 3


@dataclass(frozen=True)
class GuardResult:
    """The text to show (``None`` when blocked) and what the guard did to it."""

    text: str | None
    verdicts: list[ComplianceVerdict]


# --- folding: NFKC + casefold, with a map from folded back to original offsets ---------


class _FoldTable(dict[int, str]):
    def __missing__(self, codepoint: int) -> str:
        folded = unicodedata.normalize("NFKC", chr(codepoint)).casefold()
        if len(self) < 65536:
            self[codepoint] = folded
        return folded


_FOLD = _FoldTable()


@functools.lru_cache(maxsize=16)
def _fold(text: str) -> tuple[str, tuple[int, ...] | None]:
    """Folded text and, when lengths changed, the original index of every folded char."""
    if text.isascii():
        return text.lower(), None
    folded = text.translate(_FOLD)
    if len(folded) == len(text):  # no char folds to "", so equal length means one to one
        return folded, None
    return folded, tuple(i for i, ch in enumerate(text) for _ in _FOLD[ord(ch)])


def _span(index: tuple[int, ...] | None, start: int, end: int) -> tuple[int, int]:
    return (start, end) if index is None else (index[start], index[end - 1] + 1)


# --- replacements: a string, or a function of (folded text, start, end) ------------------

_Replace = Callable[[str, int, int], str]
_NEXT_WORD = re.compile(r"\s+([a-z0-9]+)")
_B = r"(?<![a-z0-9])"  # ASCII word boundaries: \b would treat CJK as word characters
_E = r"(?![a-z0-9])"


def _cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def _the(adjective: str) -> _Replace:
    """Replace "[the] X": "the best choice" -> "a strong choice", "the best." -> "strong"."""

    def replace(t: str, s: int, e: int) -> str:
        nxt = _NEXT_WORD.match(t, e)
        if not t.startswith("the", s) or nxt is None:
            return adjective
        article = "an" if (adjective or nxt.group(1))[0] in "aeiou" else "a"
        return f"{article} {adjective}".rstrip()

    return replace


def _swap(word: str) -> _Replace:
    """Replace the first word only: "zero-risk" -> "low-risk", "never fails" -> "rarely fails"."""
    return lambda t, s, e: word + re.sub(r"^[a-z]+", "", t[s:e])


def _leading(t: str, s: int, e: int) -> str:
    return "领先" if _cjk(t[s - 1 : s] or " ") or _cjk(t[e : e + 1] or " ") else _the("leading")(t, s, e)


def _hundred(t: str, s: int, e: int) -> str:
    word = _NEXT_WORD.match(t, e)
    if _cjk(t[e:].lstrip()[:1] or " "):
        return "高度"
    if word:
        noun = word.group(1) in {"uptime", "availability", "accuracy", "success", "satisfaction"}
        return "a high share" if word.group(1) == "of" else "high" if noun else "highly"
    return "很高" if _cjk(t[s - 1 : s] or " ") else "very high"


def _guarantee(t: str, s: int, e: int) -> str:
    verb = "aims" if t[s:e].endswith("s") else "aim"
    return verb if re.match(r"\s+to" + _E, t[e:]) else f"{verb} to ensure"


# A term: (keys, pattern, replacement). Keys are "|"-separated literals, one of which every
# match contains; the pattern (the keys themselves when empty) runs only if a key occurs.
_Term = tuple[str, str, str | _Replace]

_SUPERLATIVE: tuple[_Term, ...] = (
    ("行业第一", "", "行业领先"),
    # 第一 as a rank, not an ordinal (第一次, 第一阶段 ...) nor an enumeration ("第一，…").
    ("第一", r"(?:(?<=[^\s，。！？；：、,.!?;:])|(?!第一[、，,:：]))第一(?![次步期批天日周个季年月版条点项轮时部"
     r"章节页种类段封张份场手线印反稿波单笔件届阶位百千万十负联优目要责句眼])", "领先"),
    ("最好", r"最好(?=的|[\s，。！？；：、,.!?;:]|$)(?!的(?:办法|方式|方法|时间|时机|做法|安排))",
     lambda t, s, e: "优秀" if t.startswith("的", e) else "很好"),
    ("最佳", "最佳(?!实践|时间|时机)", "理想"),
    ("最优", "最优(?!化)", "更优"),
    ("最强", "最强(?!大)", "强大"),
    ("最大", "(?<=国内|全国|全球|世界|亚洲|中国|行业|业内|市场|同类|本土)最大"
     "|最大(?=的?(?:供应商|厂商|品牌|服务商|平台|公司|企业|提供商))", "主要"),
    ("最低价", "", "优惠价"),
    ("最先进", "", "先进"),
    ("最高级|最高端|顶级", "", "高端"),
    ("最", "最(?:好用|易用|实用|稳定|安全|可靠|专业|全面|完善|强大|高效|优秀|领先|权威|成熟|智能|靠谱"
     "|划算|实惠|受欢迎|优质)", lambda t, s, e: "非常" + t[s + 1 : e]),
    ("唯一", "唯一(?!性|标识|识别|编码|编号|id|键|值|的?(?:问题|区别|顾虑|要求|条件|办法|方法|需要|要做"
     "|差别|不同|联系人|对接人|窗口))的?", "少有的"),
    ("顶尖|极致|无与伦比|无可比拟", "", "出色"),
    ("国家级", "国家级的?", ""),
    ("世界级|世界一流|国际一流", "", "高水准"),
    ("首选", "", "优选"),
    ("独家", "", "专属"),
    ("best", _B + r"best[- ]in[- ]class" + _E, "high-quality"),
    ("best", _B + r"(?<!our\s)(?<!my\s)(?<!your\s)(?<!at\s)(?<!as\s)(?<!all\s)(?<!all the\s)(?:the\s+)?"
     r"(?:very\s+)?best(?![a-z0-9-])(?!\s+(?:regards|wishes|practices?|times?|ways?|efforts?|case|of"
     r"|person|contact|number))", _the("strong")),
    ("no|number|#", _B + r"(?:the\s+)?(?:no\.\s?1|number\s+one(?!\s+(?:priority|concern|goal|question"
     r"|thing))|(?<!option\s)(?<!step\s)(?<!item\s)(?<!issue\s)(?<!ticket\s)(?<!phase\s)(?<!point\s)#\s?1)"
     r"(?![0-9a-z])", _leading),
    ("only", _B + r"(?<!not\s)the\s+only\s+one" + _E, "one of the few"),
    ("only", _B + r"(?<!not\s)the\s+only(?=\s+[a-z0-9])(?!\s+(?:things?|questions?|difference|requirement"
     r"|concern|issue|step|change|condition|catch|open|point|way|time|downside)" + _E + ")", _the("")),
    ("world", _B + r"world[- ]?leading" + _E, "advanced"),
    ("world", _B + r"world[- ]?class" + _E, "high-quality"),
    ("leading", _B + r"(?:industry|market)[- ]?leading" + _E, "competitive"),
    ("top", _B + r"top[- ]?rated" + _E, "highly rated"),
    ("unbeatable", _B + r"unbeatable" + _E, "competitive"),
    ("cheapest", _B + r"(?:the\s+)?cheapest" + _E, _the("cost-effective")),
    ("lowest", _B + r"(?:the\s+)?lowest(?=\s+prices?" + _E + ")", _the("competitive")),
    ("most", _B + r"(?:the\s+)?most\s+advanced" + _E, _the("advanced")),
)

_GUARANTEE: tuple[_Term, ...] = (
    ("确保|保证", r"(?:确保|保证)\s?(?:百分之百|100\s?%)", "力争"),
    ("保证", "(?<!质量)保证(?!金|函|书)", "力争"),
    ("100|百分之百", r"(?<![0-9.])(?:百分之百|100\s?%|100\s+percent" + _E + ")", _hundred),
    ("绝对优势", "", "明显优势"),
    ("绝对", "绝对(?!值|路径|地址|坐标)", lambda t, s, e: "基本" if t[e : e + 1] in "不没无" else "非常"),
    ("零风险|无风险|毫无风险|没有任何风险", "", "低风险"),
    ("稳赚不赔|稳赚", "", "有望获益"),
    ("万无一失", "", "稳妥可靠"),
    ("guarantee", _B + "guaranteed" + _E, "expected"),
    ("guarantee", _B + r"(?:(?<=an\s)|(?<=a\s)|(?<=the\s)|(?<=our\s)|(?<=back\s)|(?<=back-)"
     r"|(?<=satisfaction\s))guarantees?" + _E,
     lambda t, s, e: "commitments" if t[s:e].endswith("s") else "commitment"),
    ("guarantee", _B + "guarantees?" + _E, _guarantee),
    ("risk", _B + r"risk[-\s]?free" + _E, "low-risk"),
    ("risk", _B + r"(?:zero|no)[-\s]risk" + _E, _swap("low")),
    ("never", _B + r"never\s+fail(?:s|ed)?" + _E, _swap("rarely")),
    ("downtime", _B + r"(?:zero|no)[-\s]downtime" + _E, _swap("minimal")),
)

_Compiled = tuple[tuple[tuple[str, ...], re.Pattern[str], _Replace], ...]


def _compile(terms: tuple[_Term, ...]) -> _Compiled:
    def const(value: str) -> _Replace:
        return lambda t, s, e: value

    return tuple(
        (tuple(keys.split("|")), re.compile(pattern or keys), r if callable(r) else const(r))
        for keys, pattern, r in terms
    )


_REPAIRS = {"ad-law-superlative": _compile(_SUPERLATIVE), "guarantee": _compile(_GUARANTEE)}
_SENTENCE_START = re.compile(r"(?:^|[.!?。！？\n])\s*$")


def _match_case(text: str, start: int, end: int, new: str) -> str:
    """Give an English replacement the case of what it replaces (ALL CAPS, or a sentence start)."""
    letters = [c for c in text[start:end] if c.isalpha()]
    if not new.isascii() or not new:
        return new
    if len(letters) > 1 and all(c.isupper() for c in letters) and not re.search(r"\d", text[start:end]):
        return new.upper()
    if (not letters or letters[0].isupper()) and _SENTENCE_START.search(text[:start]):
        return new[0].upper() + new[1:]
    return new


def _repair(text: str, rule: str) -> tuple[str, list[str]]:
    """``text`` with every term of ``rule`` replaced (leftmost, then longest, then table order)."""
    folded, index = _fold(text)
    found = [
        (m.start(), m.start() - m.end(), order, m.end(), replace)
        for order, (keys, pattern, replace) in enumerate(_REPAIRS[rule])
        if any(key in folded for key in keys)
        for m in pattern.finditer(folded)
    ]
    pieces: list[str] = []
    changes: list[str] = []
    pos = 0
    for fstart, _, _, fend, replace in sorted(found, key=lambda f: f[:3]):
        start, end = _span(index, fstart, fend)
        if start < pos:
            continue
        new = _match_case(text, start, end, replace(folded, fstart, fend))
        pieces += (text[pos:start], new)
        changes.append(f'"{text[start:end]}" → "{new}"')
        pos = end
    return "".join([*pieces, text[pos:]]), changes


# --- discounts: N折 pays N/10 of the price, so 八五折 is 15% off -----------------------------

_CN_DIGIT = {ch: i for i, ch in enumerate("零一二三四五六七八九")}
_CN_NUM = "[一二三四五六七八九]?十[一二三四五六七八九]?|[一二三四五六七八九]"
_PCT = r"(?:(?P<n>\d+(?:\.\d+)?)\s?(?:%|percent" + _E + f")|百分之(?P<c>{_CN_NUM}))"


def _percent(m: re.Match[str]) -> float:
    if m["n"]:
        return float(m["n"])
    tens, ten, ones = m["c"].partition("十")
    return float((_CN_DIGIT[tens] if tens else 1) * 10 + _CN_DIGIT.get(ones, 0) if ten else _CN_DIGIT[tens])


def _zhe(m: re.Match[str]) -> float:
    if m["z"]:
        n = m["z"]
        return 100 - 10 * (float(n) if "." in n or len(n) == 1 else float(n) / 10)
    return 100 - 10 * (_CN_DIGIT[m["a"]] + (_CN_DIGIT[m["b"]] / 10 if m["b"] else 0))


_DISCOUNTS: tuple[tuple[tuple[str, ...], re.Pattern[str], Callable[[re.Match[str]], float]], ...] = tuple(
    (tuple(keys.split("|")), re.compile(pattern), off)
    for keys, pattern, off in (
        ("折", r"(?:(?<![0-9.])(?P<z>[0-9]\.[0-9]|[1-9][0-9]?)\s?|(?<![一二三四五六七八九十百千万零〇])"
         r"(?P<a>[一二三四五六七八九])点?(?P<b>[一二三四五六七八九])?)折(?![旧合算叠])", _zhe),
        ("半价|对折|half", r"半价|对折|" + _B + r"half[- ](?:price|off)" + _E, lambda m: 50.0),
        ("%|百分之|percent", r"(?:优惠|降价|便宜|折扣|让利|减价|直降|立减|打折)[^\d，。！？；,!?;\n]{0,4}?"
         + _PCT, _percent),
        ("%|百分之|percent", _PCT + r"\s?的?(?:优惠|折扣|让利|降价|减免)", _percent),
        ("%|percent", _PCT + r"\s+(?:off|discount|price\s+(?:cut|reduction))" + _E, _percent),
        ("%|percent", _B + r"(?:discount|price\s+(?:cut|reduction)|markdown)\s+of\s+(?:up\s+to\s+|about\s+)?"
         + _PCT, _percent),
        ("%|percent", _B + r"(?:reduc|cut|lower|drop|discount)[a-z]*\s+(?:the\s+|our\s+|your\s+)?(?:prices?"
         r"|quote|fees?|licen[cs]e\s+fees?)\s+by\s+(?:up\s+to\s+)?" + _PCT, _percent),
    )
)
_NEGATION = re.compile(
    r"不能|无法|没法|不会|给不了|做不到|不可能|不支持|不提供|不接受|" + _B + r"(?:can[’']t|cannot|can\s+not"
    r"|unable|not\s+able|won[’']t|will\s+not|do\s+not|don[’']t|not\s+possible|not\s+offer)" + _E
)
_CLAUSE = re.compile(r"[，。！？；,.!?;\n]")


def _negated(folded: str, start: int) -> bool:
    """A refusal ("无法给到五折", "we can't offer 30% off") is not an offer."""
    return _NEGATION.search(_CLAUSE.split(folded[max(0, start - 20) : start])[-1]) is not None


# --- disparagement --------------------------------------------------------------------------

_DISPARAGING = re.compile(
    r"(?=[垃骗倒不差烂坑造抄sgtrblcuf])(?:垃圾(?!分类|回收|处理|桶)|骗子|骗人|倒闭|不靠谱|差劲|(?<!灿)烂|坑人"
    r"|造假|抄袭|" + _B + r"(?:scam(?:s|mers?)?|garbage(?!\s+collect)|trash|rubbish|bankrupt(?:cy)?"
    r"|going\s+under|liars?|crap(?:py)?|unreliable|(?<!anti-)(?<!anti\s)fraud(?:s|ulent)?"
    r"(?!\s+(?:detection|prevention|protection|monitoring)))" + _E + ")"
)
_GENERIC_COMPETITOR = "竞争对手|对手|竞品|友商|" + _B + r"(?:competitors?|rivals?)" + _E
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;\n])|(?<=\.)(?=\s|$)")


class ComplianceGuard:
    """Checks one text at a time; cheap to build (one per Suggest press), safe to reuse.

    A sentence is about a competitor when it names one of ``competitor_names``
    (names and aliases, case- and width-insensitive) or says 竞品/对手/友商/competitor;
    every sentence of the ``"competitor"`` target is about the competitor.
    """

    def __init__(self, *, max_discount_percent: float = 15.0, competitor_names: Iterable[str] = ()) -> None:
        self.max_discount_percent = max_discount_percent
        self._names = {_fold(n.strip())[0]: n.strip() for n in competitor_names if n.strip()}
        alternatives = [re.escape(n) if not n.isascii() else _B + re.escape(n) + _E
                        for n in sorted(self._names, key=len, reverse=True)]
        self._competitor = re.compile("|".join([*alternatives, _GENERIC_COMPETITOR]))

    def check(self, target: str, text: str) -> GuardResult:
        """Block, repair or pass ``text``; ``target`` names it in the verdicts ("suggestion[1]")."""
        folded, index = _fold(text)
        blocked = [
            self._verdict(target, rule, detail)
            for rule, detail in (self._discounts(text, folded, index), self._disparagement(target, folded))
            if detail
        ]
        if blocked:
            return GuardResult(None, blocked)
        details: dict[str, list[str]] = {}
        kinds = Counter(m.kind for m in find_pii(text))
        if kinds:
            text = Redactor().redact(text)
            details["pii"] = [", ".join(f"{kind}×{n}" for kind, n in sorted(kinds.items()))]
        for _ in range(_MAX_ROUNDS):
            changed = False
            for rule in _REPAIRS:
                text, changes = _repair(text, rule)
                details.setdefault(rule, []).extend(changes)
                changed = changed or bool(changes)
            if not changed:
                break
        verdicts = [
            self._verdict(target, rule.id, "; ".join(dict.fromkeys(details[rule.id])))
            for rule in RULES
            if details.get(rule.id)
        ]
        return GuardResult(text, verdicts)

    def _discounts(self, text: str, folded: str, index: tuple[int, ...] | None) -> tuple[str, str]:
        offers: list[str] = []
        for keys, pattern, percent_off in _DISCOUNTS:
            if not any(key in folded for key in keys):
                continue
            for m in pattern.finditer(folded):
                off = percent_off(m)
                if round(off, 6) > self.max_discount_percent and not _negated(folded, m.start()):
                    start, end = _span(index, *m.span())
                    offers.append(f'"{text[start:end]}" is {off:g}% off')
        limit = f"; the limit is {self.max_discount_percent:g}%"
        return "discount-over-limit", "; ".join(dict.fromkeys(offers)) + limit if offers else ""

    def _disparagement(self, target: str, folded: str) -> tuple[str, str]:
        insults: list[str] = []
        if _DISPARAGING.search(folded):
            for sentence in _SENTENCE_END.split(folded):
                term = _DISPARAGING.search(sentence)
                about = self._competitor.search(sentence) if term else None
                if term and (about or target == "competitor"):
                    subject = self._names.get(about.group(0), about.group(0)) if about else "the competitor"
                    insults.append(f'"{term.group(0)}" in a sentence about {subject}')
        return "competitor-disparagement", "; ".join(dict.fromkeys(insults))

    @staticmethod
    def _verdict(target: str, rule_id: str, detail: str) -> ComplianceVerdict:
        rule = _RULES[rule_id]
        return ComplianceVerdict(
            target=target, rule=rule.id, basis=rule.basis, action=rule.action, detail=detail
        )
