"""Compliance guard: every text shown to a rep is checked first, then repaired or blocked.

Only our own outputs are checked (suggestions, the competitor response), never customer text.
Matching runs on an NFKC + casefold copy of the text, so case and full-width forms do not matter;
repairs are applied to the original text through an index map. PII is replaced by placeholders
first (so no verdict quotes it); then the blocking rules run, and a blocked text is returned as
``None``, never repaired; otherwise the wording rules repair it, and everything is checked again on
the result until nothing changes (at most 3 repair rounds). Every pattern is precompiled and runs
only when one of its literal keys occurs, so a clean 500-character text takes well under 1 ms.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from copilot import ComplianceVerdict, Redactor, find_pii
from knowledge import fold_map, is_cjk, sentences

from ._competitor import CompetitorMatcher
from ._discounts import negated, offers

__all__ = ["RULES", "ComplianceGuard", "GuardResult", "Rule"]


@dataclass(frozen=True)
class Rule:
    """One row of the rule table; ``id`` and ``basis`` appear in every verdict."""

    id: str
    basis: str
    action: Literal["repaired", "blocked"]
    description: str


RULES: tuple[Rule, ...] = (
    Rule("ad-law-superlative", "《广告法》第九条", "repaired", "absolute claims are reworded"),
    Rule("guarantee", "《广告法》第四条", "repaired", "promised results are softened"),
    Rule("discount-over-limit", "《价格授权制度》", "blocked", "discount over the maximum"),
    Rule("competitor-disparagement", "《反不正当竞争法》第十一条", "blocked", "disparaging a competitor"),
    Rule("pii", "《个人信息保护法》第十三条", "repaired", "personal data become placeholders"),
)
_RULES = {rule.id: rule for rule in RULES}
_MAX_ROUNDS = 3


@dataclass(frozen=True)
class GuardResult:
    """The text to show (``None`` when blocked) and what the guard did to it."""

    text: str | None
    verdicts: list[ComplianceVerdict]


# --- folding: NFKC + casefold (knowledge.fold_map), with a map back to original offsets ----

_fold = fold_map


def _span(index: tuple[int, ...] | None, start: int, end: int) -> tuple[int, int]:
    return (start, end) if index is None else (index[start], index[end - 1] + 1)


# --- replacements: a string, or a function of (folded text, start, end) ------------------

_Replace = Callable[[str, int, int], str]
_NEXT_WORD = re.compile(r"\s+([a-z0-9]+)")
_B = r"(?<![a-z0-9])"  # ASCII word boundaries: \b would treat CJK as word characters
_E = r"(?![a-z0-9])"
_ALNUM = re.compile("[a-z0-9]")


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
    return "领先" if is_cjk(t[s - 1 : s] or " ") or is_cjk(t[e : e + 1] or " ") else _the("leading")(t, s, e)


def _hundred(t: str, s: int, e: int) -> str:
    word = _NEXT_WORD.match(t, e)
    if is_cjk(t[e:].lstrip()[:1] or " "):
        return "高度"
    if word:
        noun = word.group(1) in {"uptime", "availability", "accuracy", "success", "satisfaction"}
        return "a high share" if word.group(1) == "of" else "high" if noun else "highly"
    return "很高" if is_cjk(t[s - 1 : s] or " ") else "very high"


def _guarantee(t: str, s: int, e: int) -> str:
    verb = "aims" if t[s:e].endswith("s") else "aim"
    return verb if re.match(r"\s+to" + _E, t[e:]) else f"{verb} to ensure"


# A term: (keys, pattern, replacement[, not_after]). Keys are "|"-separated literals, one of
# which every match contains; the pattern (the keys themselves when empty) runs only if a key
# occurs. Patterns start with a literal so the regex engine can skip ahead; what must not come
# right before a match is checked afterwards (for English terms: a letter or digit).
_Term = tuple[str, str, str | _Replace] | tuple[str, str, str | _Replace, str]
_NO1 = r"no\.\s?1|number\s+one(?!\s+(?:priority|concern|goal|question|thing))|#\s?1"
_PLACES = "业内|行业|国内|全国|全球|世界|亚洲|中国|市场|同类|本土"
_FIRST_TO = "通过|获得|获|拿到|推出|发布|实现|提出|打造|研发|开发|做到|取得|达到|完成|采用|引入|入选|成为"
_NOT_ORDINAL = (
    "次步期批天日周个季年月版条点项轮时部章节页种类段封张份场手线印反稿波单笔件届阶位百千万十负联优目要责句眼"
)

_SUPERLATIVE: tuple[_Term, ...] = (
    ("行业第一", "行业第一(?![家个])", "行业领先"),
    # "the first (家/个) to do X" is a claim; 第一家门店, 第一个问题 are ordinals.
    ("第一家|第一个", f"第一[家个](?={_FIRST_TO})", "较早"),
    ("第一家|第一个", f"(?<=(?:{_PLACES}))第一[家个]", "较早一批"),
    # 第一 as a rank, not an ordinal (第一次, 第一阶段 ...) nor an enumeration ("第一，…").
    ("第一", f"第一(?:(?![、，,:：])|(?<=[^\\s，。！？；：、,.!?;:]第一))(?![{_NOT_ORDINAL}家])", "领先"),
    (
        "最好",
        r"最好(?=的|[\s，。！？；：、,.!?;:]|$)(?!的(?:办法|方式|方法|时间|时机|做法|安排))",
        lambda t, s, e: "优秀" if t.startswith("的", e) else "很好",
    ),
    ("最佳", "最佳(?!实践|时间|时机)", "理想"),
    ("最优", "最优(?!化)", "更优"),
    ("最强", "最强(?!大)", "强大"),
    (
        "最大",
        f"最大(?:(?<=(?:{_PLACES})最大)|(?=的?(?:供应商|厂商|品牌|服务商|平台|公司|企业|提供商)))",
        "主要",
    ),
    ("最低价", "", "优惠价"),
    ("最先进", "", "先进"),
    ("最高级|最高端|顶级", "", "高端"),
    (
        "最",
        "最(?:好用|易用|实用|稳定|安全|可靠|专业|全面|完善|强大|高效|优秀|领先|权威|成熟|智能|靠谱"
        "|划算|实惠|受欢迎|优质)",
        lambda t, s, e: "非常" + t[s + 1 : e],
    ),
    (
        "唯一",
        "唯一(?!性|标识|识别|编码|编号|id|键|值|的?(?:问题|区别|顾虑|要求|条件|办法|方法|需要|要做"
        "|差别|不同|联系人|对接人|窗口))的?",
        "少有的",
    ),
    ("顶尖|极致|无与伦比|无可比拟", "", "出色"),
    ("国家级", "国家级的?", ""),
    ("世界级|世界一流|国际一流", "", "高水准"),
    ("首选", "", "优选"),
    ("独家", "", "专属"),
    ("best", r"best[- ]in[- ]class" + _E, "high-quality"),
    (
        "best",
        r"(?:the\s+very\s+best|the\s+best|very\s+best|best)(?![a-z0-9-])(?!\s+(?:regards|wishes"
        r"|practices?|times?|ways?|efforts?|case|of|person|contact|number))",
        _the("strong"),
        r"(?:our|my|your|at|as|all|all the)\s",
    ),
    (
        "no|number|#",
        f"(?:the\\s+(?:{_NO1})|{_NO1})(?![0-9a-z])",
        _leading,
        r"(?:option|step|item|issue|ticket|phase|point)\s",
    ),
    ("only", r"the\s+only\s+one" + _E, "one of the few", r"not\s"),
    (
        "only",
        r"the\s+only(?=\s+[a-z0-9])(?!\s+(?:things?|questions?|difference|requirement|concern|issue"
        r"|step|change|condition|catch|open|point|way|time|downside)" + _E + ")",
        _the(""),
        r"not\s",
    ),
    ("world", r"world[- ]?leading" + _E, "advanced"),
    ("world", r"world[- ]?class" + _E, "high-quality"),
    ("leading", r"(?:industry|market)[- ]?leading" + _E, "competitive"),
    ("top", r"top[- ]?rated" + _E, "highly rated"),
    ("unbeatable", r"unbeatable" + _E, "competitive"),
    ("cheapest", r"(?:the\s+cheapest|cheapest)" + _E, _the("cost-effective")),
    ("lowest", r"(?:the\s+lowest|lowest)(?=\s+prices?" + _E + ")", _the("competitive")),
    ("most", r"(?:the\s+most|most)\s+advanced" + _E, _the("advanced")),
)

_GUARANTEE: tuple[_Term, ...] = (
    ("确保|保证", r"(?:确保|保证)\s?(?:百分之百|100\s?%)", "力争"),
    ("保证", "保证(?<!质量保证)(?!金|函|书)", "力争"),
    ("100|百分之百", r"百分之百|100\s?%|100\s+percent" + _E, _hundred, r"[0-9.]"),
    ("绝对优势", "", "明显优势"),
    ("绝对", "绝对(?!值|路径|地址|坐标)", lambda t, s, e: "基本" if t[e : e + 1] in "不没无" else "非常"),
    ("零风险|无风险|毫无风险|没有任何风险", "", "低风险"),
    ("稳赚不赔|稳赚", "", "有望获益"),
    ("万无一失", "", "稳妥可靠"),
    ("guarantee", "guaranteed" + _E, "expected"),
    (
        "guarantee",
        r"guarantee(?:(?<=\ba\sguarantee)|(?<=\ban\sguarantee)|(?<=the\sguarantee)"
        r"|(?<=our\sguarantee)|(?<=back[\s-]guarantee)|(?<=bank\sguarantee)|(?<=satisfaction\sguarantee))s?"
        + _E,
        lambda t, s, e: "commitments" if t[s:e].endswith("s") else "commitment",
    ),
    ("guarantee", "guarantees?" + _E, _guarantee),
    ("risk", r"risk[-\s]?free" + _E, "low-risk"),
    ("risk", r"(?:zero|no)[-\s]risk" + _E, _swap("low")),
    ("never", r"never\s+fail(?:s|ed)?" + _E, _swap("rarely")),
    ("downtime", r"(?:zero|no)[-\s]downtime" + _E, _swap("minimal")),
)


_Compiled = tuple[tuple[str, ...], re.Pattern[str], _Replace, re.Pattern[str] | None]


def _compile(terms: tuple[_Term, ...]) -> tuple[_Compiled, ...]:
    def const(value: str) -> _Replace:
        return lambda t, s, e: value

    compiled = []
    for keys, pattern, replace, *not_after in terms:
        not_after += ["[a-z0-9]"] if keys.isascii() else []  # English terms start a word
        after = re.compile(f"(?:{'|'.join(not_after)})\\Z") if not_after else None
        rx = re.compile(pattern or keys)
        compiled.append((tuple(keys.split("|")), rx, replace if callable(replace) else const(replace), after))
    return tuple(compiled)


def _matches(term: _Compiled, folded: str) -> Iterator[re.Match[str]]:
    """Matches of a term not right after its ``not_after``; nothing at all when no key occurs."""
    keys, pattern, _, not_after = term
    pos = 0 if any(key in folded for key in keys) else len(folded) + 1
    while (m := pattern.search(folded, pos)) is not None:
        pos = max(m.end(), m.start() + 1)
        if not_after is None or not not_after.search(folded, max(0, m.start() - 12), m.start()):
            yield m


_REPAIRS = {"ad-law-superlative": _compile(_SUPERLATIVE), "guarantee": _compile(_GUARANTEE)}
_ARTICLE = re.compile(r"(?<![A-Za-z])(an?|An?)(\s+)$")


def _match_case(text: str, start: int, end: int, new: str) -> str:
    """Give an English replacement the case of what it replaces (ALL CAPS, or a sentence start)."""
    letters = [c for c in text[start:end] if c.isalpha()]
    if not new.isascii() or not new:
        return new
    if len(letters) > 1 and all(c.isupper() for c in letters) and not re.search(r"\d", text[start:end]):
        return new.upper()
    prefix = text[:start].rstrip(" \t\u3000")
    if (not letters or letters[0].isupper()) and (not prefix or prefix[-1] in ".!?。！？\n"):
        return new[0].upper() + new[1:]
    return new


def _fix_article(before: str, new: str) -> str:
    """'an unbeatable price' -> 'a competitive price': the article before a replaced word."""
    m = _ARTICLE.search(before)
    if m is None or not (new[:1].isascii() and new[:1].isalpha()):
        return before
    article = "an" if new[0].lower() in "aeiou" else "a"
    return before[: m.start(1)] + (article.capitalize() if m[1][0] == "A" else article) + m[2]


_OPEN_QUOTES = "\"'“‘「『《〈"
_CLOSE_QUOTES = "\"'”’」』》〉"
# What a repair must not leave behind: an empty quotation, doubled punctuation, a dangling
# article or a sentence that starts with punctuation.
_BROKEN = re.compile(
    r"\"\"|“”|‘’|「」|『』|《》|''|[，、；：,;:]\s*[，。、；：！？,.;:!?]|(?<![A-Za-z])(?:a|an)\s+[,.;:!?]"
    r"|^\s*[，。、；：,;:]|\s{2,}(?=\S)"
)


def _quoted(text: str, start: int, end: int) -> bool:
    """A term in quotation marks is being mentioned, not claimed ("不得使用“最好”等用语")."""
    before, after = text[start - 1 : start], text[end : end + 1]
    return (bool(before) and before in _OPEN_QUOTES) or (bool(after) and after in _CLOSE_QUOTES)


def _repair(text: str, rule: str) -> tuple[str, list[str], str]:
    """``text`` with every term of ``rule`` replaced (leftmost, then longest, then table order),
    the changes, and why the result would not stay a sentence ("" when it would)."""
    folded, index = _fold(text)
    found = [
        (m.start(), m.start() - m.end(), order, m.end(), term[2])
        for order, term in enumerate(_REPAIRS[rule])
        for m in _matches(term, folded)
    ]
    pieces: list[str] = []
    changes: list[str] = []
    broken = ""
    pos = 0
    for fstart, _, _, fend, replace in sorted(found, key=lambda f: f[:3]):
        start, end = _span(index, fstart, fend)
        if start < pos:
            continue
        if _quoted(text, start, end):
            broken = broken or f'"{text[start:end]}" is quoted: rewording it would misquote'
        new = _match_case(text, start, end, replace(folded, fstart, fend))
        pieces += (_fix_article(text[pos:start], new), new)
        changes.append(f'"{text[start:end]}" → "{new}"')
        pos = end
    result = "".join([*pieces, text[pos:]])
    if changes and not broken and (bad := _BROKEN.search(result)) and not _BROKEN.search(text):
        broken = f'rewording leaves broken text ("{bad.group(0).strip() or bad.group(0)}")'
    return result, changes, broken


# --- disparagement --------------------------------------------------------------------------

_DISPARAGING = re.compile(
    r"垃圾(?!分类|回收|处理|桶)|骗子|骗人|倒闭|不靠谱|差劲|烂(?<!灿烂)|坑人|造假|抄袭|scam(?:s|mers?)?"
    r"|garbage(?!\s+collect)|trash|rubbish|bankrupt(?:cy)?|going\s+under|liars?|crap(?:py)?|unreliable"
    r"|fraud(?<!anti-fraud)(?<!anti\sfraud)(?:s|ulent)?(?!\s+(?:detection|prevention|protection|monitoring))"
    # negative claims without an insult: 极光数仓的系统很不稳定，经常宕机
    r"|(?<!网络)(?<!信号)不稳定|(?:经常|总是|老是|频繁|容易|动不动就?|时常|常常)会?(?:宕机|崩溃|掉线|出问题|出故障|出错)"
    r"|(?:质量|体验|服务|性能|口碑|很|太|特别|非常|比较|相当)差(?![异距别价额不])|(?<!行)不行(?![业动使])"
    r"|unstable(?!\s+(?:networks?|connections?))|keeps?\s+crashing|crash(?:es)?\s+(?:all\s+the\s+time"
    r"|constantly|often|frequently)|(?:poor|low)[\s-]quality(?!\s+data)|buggy"
)
_GENERIC_COMPETITOR = re.compile("竞争对手|对手|竞品|友商|" + _B + r"(?:competitors?|rivals?)" + _E)


def _disparaging(sentence: str) -> str | None:
    """The first disparaging word of ``sentence`` (English words must stand alone)."""
    for m in _DISPARAGING.finditer(sentence):
        edges = sentence[m.start() - 1 : m.start()] + sentence[m.end() : m.end() + 1]
        if not (m.group(0).isascii() and _ALNUM.search(edges)):
            return m.group(0)
    return None


class ComplianceGuard:
    """Checks one text at a time; cheap to build (one per Suggest press), safe to reuse.

    A sentence is about a competitor when it names one of ``competitor_names``
    (names and aliases, case- and width-insensitive) or says 竞品/对手/友商/competitor;
    every sentence of the ``"competitor"`` target is about the competitor. ``discount_basis``
    is the deployment's own pricing policy, cited when a discount is blocked.
    """

    def __init__(
        self,
        *,
        max_discount_percent: float = 15.0,
        competitor_names: Iterable[str] = (),
        discount_basis: str = "《价格授权制度》",
    ) -> None:
        self.max_discount_percent = max_discount_percent
        self._basis = {**{rule.id: rule.basis for rule in RULES}, "discount-over-limit": discount_basis}
        self._competitors = CompetitorMatcher.of_names(competitor_names)

    def check(self, target: str, text: str) -> GuardResult:
        """Block, repair or pass ``text``; ``target`` names it in the verdicts ("suggestion[1]")."""
        details: dict[str, list[str]] = {}
        pii: Counter[str] = Counter()
        for round_ in range(_MAX_ROUNDS + 1):  # a repair can change what the other rules see
            # First: no detail quotes PII. Contact data only: a reply may greet a person by name.
            if found := Counter(m.kind for m in find_pii(text, people=False)):
                text = Redactor(people=False).redact(text)
                pii.update(found)
            if blocked := self._blocking(target, text):
                return GuardResult(None, blocked)
            changed = False
            for rule in _REPAIRS if round_ < _MAX_ROUNDS else ():
                text, changes, broken = _repair(text, rule)
                if broken:  # block rather than show what is no longer a sentence
                    detail = "; ".join([*changes, broken])
                    return GuardResult(None, [self._verdict(target, rule, detail, "blocked")])
                details.setdefault(rule, []).extend(changes)
                changed = changed or bool(changes)
            if not changed:
                break
        details["pii"] = [", ".join(f"{kind}×{n}" for kind, n in sorted(pii.items()))] if pii else []
        verdicts = [
            self._verdict(target, rule.id, "; ".join(dict.fromkeys(details[rule.id])))
            for rule in RULES
            if details.get(rule.id)
        ]
        return GuardResult(text, verdicts)

    def _blocking(self, target: str, text: str) -> list[ComplianceVerdict]:
        folded, index = _fold(text)
        found = (self._discounts(text, folded, index), self._disparagement(target, folded))
        return [self._verdict(target, rule, detail) for rule, detail in found if detail]

    def _discounts(self, text: str, folded: str, index: tuple[int, ...] | None) -> tuple[str, str]:
        over = [
            f'"{text[slice(*_span(index, start, end))]}" is {off:g}% off'
            for start, end, off in offers(folded)
            if round(off, 6) > self.max_discount_percent and not negated(folded, start)
        ]
        limit = f"; the limit is {self.max_discount_percent:g}%"
        return "discount-over-limit", "; ".join(dict.fromkeys(over)) + limit if over else ""

    def _disparagement(self, target: str, folded: str) -> tuple[str, str]:
        insults: list[str] = []
        for sentence in sentences(folded) if _disparaging(folded) else ():
            term = _disparaging(sentence)
            if not term:
                continue
            named = self._competitors.find(sentence)
            generic = _GENERIC_COMPETITOR.search(sentence)
            if named or generic or target == "competitor":
                subject = named or (generic.group(0) if generic else "the competitor")
                insults.append(f'"{term}" in a sentence about {subject}')
        return "competitor-disparagement", "; ".join(dict.fromkeys(insults))

    def _verdict(
        self, target: str, rule_id: str, detail: str, action: Literal["repaired", "blocked"] | None = None
    ) -> ComplianceVerdict:
        basis, action = self._basis[rule_id], action or _RULES[rule_id].action
        return ComplianceVerdict(target=target, rule=rule_id, basis=basis, action=action, detail=detail)
