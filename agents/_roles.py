"""The buying-role vocabulary, zh and en: words that name each role (titles, teams),
and words that say how far a role is engaged (``words``: cues, negations, conditions …).

A modifier changes what a title holds:

* a helper (``总经理助理``, ``CFO秘书``, "Assistant to the CEO", "CEO's secretary")
  holds no role: an assistant relays for the role holder but is not one;
* a deputy (``副总裁``, ``副总经理``, ``助理总裁``, "Deputy General Manager", "Vice
  President of Sales", "Associate …") of the chief executive is a senior executive who
  owns a business area, so ``business_owner``, never ``ceo``; so are the bare ranks
  VP/SVP/EVP. In a title, a named function wins over such a rank ("Vice President of
  Finance" is ``cfo``). A deputy of any other role keeps it ("Deputy CFO" is finance).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Literal, NamedTuple

from copilot import Role
from knowledge import fold, is_cjk

from ._titles import frontline, function_role

__all__ = [
    "Mention",
    "State",
    "Synonyms",
    "bare_it",
    "find_roles",
    "joined",
    "mentions",
    "role_of_title",
    "self_introduction",
    "synonyms_of",
    "took_part",
    "words",
]

State = Literal["involved", "reviewed", "approved"]

# Longest alias wins; an alias that starts or ends with a Latin letter or digit must
# stand as a word there ("it经理" is not inside "audit经理").
_ALIASES: dict[Role, tuple[str, ...]] = {
    "ceo": (
        "总经理", "董事长", "执行董事", "老板", "老总", "总裁", "首席执行官", "创始人", "一把手",
        "ceo", "chief executive", "managing director", "founder", "owner of the company", "owner", "boss",
        "general manager", "country manager", "president", "chairman",
    ),
    "cfo": (
        "财务总监", "财务负责人", "财务经理", "财务部", "财务", "首席财务官", "会计", "计财",
        "cfo", "vp finance", "finance director", "head of finance", "finance", "controller", "accounting",
        "chief financial officer", "fp&a", "treasurer",
    ),
    "cto": (
        "技术总监", "技术负责人", "it负责人", "it总监", "it经理", "it部门", "信息中心", "信息部",
        "信息科", "技术这边", "技术团队", "技术部", "首席技术官", "首席信息官", "研发", "信息化", "架构师",
        "cto", "cio", "head of it", "it director", "it manager", "vp engineering", "it department",
        "chief technology officer", "chief information officer", "it team", "engineering", "tech team",
        "technical team", "architects", "architect",
    ),
    "procurement": (
        "采购经理", "采购部", "采购", "招采", "招标办", "寻源",
        "procurement", "purchasing", "buyer", "buyers", "sourcing", "vendor management",
    ),
    "legal": (
        "法务", "律师", "法律顾问", "合规部", "合规",
        "legal", "counsel", "lawyer", "lawyers", "paralegal", "compliance", "contracts team",
    ),
    "it_security": (
        "信息安全", "安全负责人", "安全团队", "首席信息安全官", "网络安全", "数据安全", "安全部",
        "ciso", "security team", "it security", "infosec", "security officer", "cybersecurity",
        "chief information security officer", "secops",
    ),
    "business_owner": (
        "业务负责人", "厂长", "运营总监", "生产总监",
        "业务部门", "门店运营", "首席运营官", "业务方", "运营",
        "head of operations", "coo", "operations director", "vp operations", "vp ops", "plant manager",
        "business owner", "chief operating officer", "operations", "line of business",
    ),
    "end_user": (
        "一线使用者", "一线员工", "一线", "操作工", "车间主任",
        "班组长", "店长", "店员", "仓管", "仓库管理员",
        "护士", "使用部门",
        "end user", "end users", "end-user", "end-users", "frontline", "operators", "store manager",
        "store managers", "store associates", "associates", "nurses", "warehouse staff", "staff",
        "users", "agents", "planners", "dispatchers",
    ),
}  # fmt: skip
# Executive ranks without a function: business_owner, but a named function wins in a title.
_RANKS = ("vp", "svp", "evp")
_HELPER_BEFORE = ("assistant to the ", "assistant to ", "secretary to the ", "secretary to ")
_HELPER_AFTER = ("助理", "秘书", "'s assistant", "'s secretary", " assistant", " secretary")
_DEPUTY_BEFORE = ("副", "助理", "deputy ", "vice ", "vice-", "associate ", "assistant ")
# "my boss" is whoever the speaker reports to, not the chief executive (an appositive or a
# description names the role: "my boss, the COO, …").
_RELATIONAL = re.compile(r"(?<![a-z])my\s+$")


class Mention(NamedTuple):
    """A role named in folded text; ``role`` is None for a helper ("总经理助理")."""

    role: Role | None
    start: int
    end: int
    rank: bool = False  # a deputy or bare executive rank: a named function wins in a title


def _word_pattern(word: str) -> str:
    """A regex for ``word`` that cannot start or end inside a Latin word."""
    left = r"(?<![a-z0-9])" if word[0].isascii() and word[0].isalnum() else ""
    right = r"(?![a-z0-9])" if word[-1].isascii() and word[-1].isalnum() else ""
    return left + re.escape(word) + right


_INDEX: list[tuple[str, Role, bool]] = sorted(
    [(fold(alias), role, False) for role, aliases in _ALIASES.items() for alias in aliases]
    + [(rank, "business_owner", True) for rank in _RANKS],
    key=lambda entry: -len(entry[0]),
)


def _modified(folded: str, hit: Mention) -> Mention:
    """``hit`` with a helper or deputy modifier next to it applied (span included)."""
    if folded[hit.start : hit.end] == "boss" and _RELATIONAL.search(
        folded[max(0, hit.start - 8) : hit.start]
    ):
        return Mention(None, hit.start, hit.end)
    for word in _HELPER_BEFORE:
        if folded.endswith(word, 0, hit.start):
            return Mention(None, hit.start - len(word), hit.end)
    for word in _HELPER_AFTER:
        if folded.startswith(word, hit.end):
            return Mention(None, hit.start, hit.end + len(word))
    for word in _DEPUTY_BEFORE:
        if folded.endswith(word, 0, hit.start):
            deputy_ceo = hit.role == "ceo"
            role: Role | None = "business_owner" if deputy_ceo else hit.role
            return Mention(role, hit.start - len(word), hit.end, deputy_ceo or hit.rank)
    return hit


Synonyms = tuple[tuple[Role, tuple[str, ...]], ...]  # content owners' words per role, hashable


def synonyms_of(tables: Iterable[Mapping[Role, Sequence[str]]]) -> Synonyms:
    """Merge ``role_synonyms`` tables (from playbook atoms) into one hashable value."""
    merged: dict[Role, list[str]] = {}
    for table in tables:
        for role, words in table.items():
            merged.setdefault(role, []).extend(w for w in words if w not in merged.get(role, []))
    return tuple((role, tuple(words)) for role, words in sorted(merged.items()))


@functools.lru_cache(maxsize=32)
def _patterns(extra: Synonyms) -> list[tuple[str, re.Pattern[str], Role, bool]]:
    """(alias, its pattern, role, rank), longest alias first."""
    added = [(fold(word), role, False) for role, words in extra for word in words if word.strip()]
    index = sorted(_INDEX + added, key=lambda entry: -len(entry[0]))
    return [(alias, re.compile(_word_pattern(alias)), role, rank) for alias, role, rank in index]


def mentions(folded: str, extra: Synonyms = (), upper: Sequence[bool] | None = None) -> list[Mention]:
    """Every role mention (helpers included) in already folded text, by position, no overlaps;
    ``extra``: synonyms content owners added; ``upper``: which folded characters were
    capitals in the text (then a bare "IT" names the IT department, see :func:`bare_it`)."""
    found: list[Mention] = []
    for alias, pattern, role, rank in _patterns(extra):
        if alias not in folded:  # a substring test is far cheaper than a regex search
            continue
        for match in pattern.finditer(folded):
            hit = _modified(folded, Mention(role, match.start(), match.end(), rank))
            if not any(hit.start < other.end and other.start < hit.end for other in found):
                found.append(hit)
    if upper is not None:
        found += [
            hit
            for hit in bare_it(folded, upper)
            if not any(hit.start < o.end and o.start < hit.end for o in found)
        ]
    return sorted(found, key=lambda hit: hit.start)


_BARE_IT = re.compile(r"(?<![a-z0-9])it(?![a-z0-9'])")


def bare_it(folded: str, upper: Sequence[bool]) -> list[Mention]:
    """A bare "IT" standing alone ("IT has to sign off", "IT那边确认过了") as the IT department
    (``cto``): written in capitals, or next to Chinese, where it cannot be the pronoun."""
    found = []
    for match in _BARE_IT.finditer(folded):
        start, end = match.span()
        capitals = all(upper[start:end])
        beside_chinese = (start > 0 and is_cjk(folded[start - 1])) or (
            end < len(folded) and is_cjk(folded[end])
        )
        if capitals or beside_chinese:
            found.append(Mention("cto", start, end))
    return found


def find_roles(text: str) -> Iterator[tuple[Role, int, int]]:
    """Roles named in ``text`` as (role, start, end) in normalised text, by position, no overlaps."""
    for hit in mentions(fold(text)):
        if hit.role is not None:
            yield hit.role, hit.start, hit.end


# "我是采购部的王经理", "I'm the head of procurement", "I run purchasing here": the speaker
# introduces themself by a title. What follows, up to the clause's end, is read as one.
_SELF_INTRO = re.compile(
    r"(?:我是|我就是|本人是|(?<![a-z])(?:i'm|i am)\s+(?:the\s+|from\s+|in\s+)"
    r"|(?<![a-z])i\s+(?:lead|run|head|manage)\s+(?=the\s|our\s|[a-z]+\s*(?:here|$)))"
    r"([^,.!?;:()\[\]]{1,30})"
)
_NOT_A_TITLE = tuple("说想在要觉来问不没")
_TITLE_WORDS = ("self", "neutral")  # may stand in a title: "head of our finance team"
# A title ends where someone else, a place or another clause comes in: "I'm in a meeting
# with legal", "I'm the head of IT at Acme", "我是跟财务对接的".
_TITLE_ENDS = re.compile(r"跟|给|向|和|对|帮|替|(?<![a-z])(?:with|for|to|about|at|on|and)(?![a-z])")


def self_introduction(folded: str, extra: Synonyms = ()) -> tuple[Role, int, int] | None:
    """(role, start, end) when folded ``text`` has its speaker introduce themself by a title
    that holds a role; not "我是说…", "我是想问财务…", nor a clause with a cue, negation,
    question or plan in it ("I'm the one who hasn't …")."""
    for match in _SELF_INTRO.finditer(folded):
        phrase = _TITLE_ENDS.split(match.group(1), maxsplit=1)[0].strip()
        if (
            not phrase
            or phrase.startswith(_NOT_A_TITLE)
            or any(kind not in _TITLE_WORDS for *_, kind, _ in words(phrase))
        ):
            continue
        role = role_of_title(phrase, extra)
        if role:
            return role, match.start(), match.end()
    return None


def role_of_title(title: str, extra: Synonyms = ()) -> Role | None:
    """The role a participant's job title holds, or None: by function first ("Director of
    Information Security", "临床运营负责人"), then executive titles (CEO, 总经理, deputies),
    then frontline work (Cashier, 操作工); helpers hold none. ``extra``: synonyms per role
    that content owners added."""
    decided, role = function_role(title, dict(extra))
    if decided:
        return role
    hits = [hit for hit in mentions(fold(title), extra) if hit.role is not None]
    named = [hit for hit in hits if not hit.rank]
    first = (named or hits)[:1]
    if first:
        return first[0].role
    return "end_user" if frontline(title) else None


# How far a role is engaged, and the words around that which change what a sentence states.
# ``words`` matches them in folded text (，→, ？→?), leftmost then longest first.
_CUES: dict[State, tuple[str, ...]] = {
    "approved": (
        "认可", "同意", "批准", "审批通过", "评审通过", "审核通过", "已通过", "已经通过", "通过了",
        "拍板", "签字", "批下来", "已审批", "审批过",
        "没问题", "没有问题", "没什么问题", "没意见", "没有意见", "没有异议", "无异议",
        "approved", "signed off", "signed", "agreed", "agrees", "accepted", "is on board",
        "are on board", "happy with", "fine with", "gave the green light", "gave us the green light",
        "green-lit", "okayed", "no problem", "no problems", "no issues", "no objection",
        "no objections", "no concerns",
    ),
    "reviewed": (
        "看过", "看了", "看完", "审阅", "审过", "审核过", "评估过", "过目", "研究过",
        "reviewed", "looked at", "seen", "saw the", "went through", "gone through", "checked", "read through",
    ),
    "involved": (
        "加入", "进群", "在群里", "参与", "拉进", "参加", "会来", "一起来", "也在",
        "joined", "will join", "is joining", "involved", "on the call", "in the loop", "attending",
        "will attend",
    ),
}  # fmt: skip
# Cues whose role is named after them ("拉了财务进群", "approved by the CFO").
_OBJECT_CUES: dict[State, tuple[str, ...]] = {
    "approved": ("approved by", "signed off by", "signed by", "accepted by"),
    "reviewed": ("reviewed by", "seen by", "checked by"),
    "involved": (
        "拉了", "拉上", "邀请了", "抄送", "looped in", "brought in", "cc'd", "cc", "invited", "added",
    ),
}  # fmt: skip
_WORDS: dict[str, tuple[str, ...]] = {
    "negation": (
        "还没", "还未", "尚未", "没有", "没", "未", "不", "别", "无法", "没法", "不了解",
        "需要", "必须", "应该", "可能", "也许", "估计", "打算",
        "not", "no", "never", "hasn't", "haven't", "hadn't", "isn't", "aren't", "wasn't", "weren't",
        "didn't", "doesn't", "don't", "won't", "wouldn't", "can't", "cannot", "couldn't",
        "shouldn't", "yet to", "would", "could", "might", "should", "may", "must", "need to",
        "needs to", "has to", "have to", "going to", "plans to", "plan to",
    ),
    "nobody": ("no one", "nobody", "none of", "not even", "without"),
    "refusal": (
        "不同意", "不批准", "不认可", "不接受", "不满意", "不通过", "没通过", "未通过", "没同意",
        "否决", "拒绝", "驳回", "反对", "有意见", "有异议",
        "disagree", "disagrees", "disagreed", "rejected", "declined", "turned down", "vetoed",
        "pushed back", "unhappy with", "objected", "against",
    ),
    "after": ("不了", "不到", "不下来"),  # negates the cue before it: 参与不了
    "neutral": ("不少", "不错", "不仅", "不但", "不光", "不久", "不断", "不管", "不论", "未来",
                "没想到", "但愿", "别的", "not only", "no matter"),
    "contrast": ("但是", "但", "不过", "可是", "然而", "but", "however", "although", "though",
                 "whereas", "while"),
    "condition": ("如果", "假如", "假设", "要是", "只要", "除非", "一旦", "倘若", "万一", "否则",
                  "不然", "的话", "if", "unless", "once", "provided", "as long as", "otherwise",
                  "in case"),
    "question": ("是否", "有没有", "是不是", "能不能", "会不会", "要不要", "可不可以", "whether"),
    "foreign": ("竞品", "对手", "友商", "他们那边", "别家", "其他厂商", "另一家", "别的公司", "其他公司",
                "兄弟单位", "兄弟公司", "朋友", "sister company", "sister companies",
                "i know", "a friend", "another company", "another bank", "at another",
                "from another", "other companies", "competitor", "competitors",
                "competitor's", "rival", "rivals", "their side", "other vendor", "other vendors"),
    "and": ("而且", "并且", "同时", "然后", "and", "also", "then"),  # a pending negation ends here
    # Plans state nothing yet ("回头我拉上财务一起开个会", "we'll bring legal in next week").
    "future": ("回头", "下周", "下个月", "下月", "下次", "明天", "稍后", "到时候", "计划", "准备", "将要",
               "will", "'ll", "next week", "next month", "tomorrow", "later", "soon", "going forward"),
    "self": ("我", "咱", "i", "we", "me", "my", "our", "us", "i'm", "i've", "we're", "we've"),
}  # fmt: skip
# What may stand between two roles that share one cue ("技术和财务", "the CTO and the CFO").
_JOINERS = ("as well as", "以及", "还有", "我们", "both", "and", "the", "our", "和", "与", "及", "跟",
             "、", "的", "/", "&")  # fmt: skip

_TABLE: dict[str, tuple[str, State | None]] = {
    **{word: (kind, None) for kind, entries in _WORDS.items() for word in entries},
    **{word: ("object", state) for state, entries in _OBJECT_CUES.items() for word in entries},
    **{word: ("cue", state) for state, entries in _CUES.items() for word in entries},
}
_BY_LENGTH = sorted(_TABLE, key=len, reverse=True)
# Chinese words match anywhere, Latin ones as whole words (one shared check: much faster).
_LEXICON = re.compile(
    "|".join(re.escape(word) for word in _BY_LENGTH if not word.isascii())
    + "|(?<![a-z0-9])(?:"
    + "|".join(re.escape(word) for word in _BY_LENGTH if word.isascii())
    + ")(?![a-z0-9])"
)


def words(folded: str) -> Iterator[tuple[int, int, str, State | None]]:
    """(start, end, kind, state) of each table word in ``folded``; kind is a ``_WORDS``
    key, "cue" or "object" (state cues, which carry their state)."""
    for match in _LEXICON.finditer(folded):
        kind, state = _TABLE[match.group()]
        yield match.start(), match.end(), kind, state


# Done or under way: a role that is the subject of such a clause took part ("老板问了一句价格",
# "procurement already ran the vendor assessment", "the nurses tested the app").
_TOOK_PART = re.compile(
    r"已|了|过|正在|在|都|一直"
    r"|(?<![a-z])(?:[a-z]{2,}ed|already|has been|have been|had been|sat|ran|went|did|took|gave|saw|met|spoke"
    r"|said|came|made|got|been using|are using|is using|are testing|is testing)(?![a-z])"
)


def took_part(clause: str) -> bool:
    """Whether folded ``clause`` reports something done or under way (not planned, asked, denied)."""
    return _TOOK_PART.search(clause) is not None


def joined(gap: str) -> bool:
    """Whether only joining words stand between two role mentions ("技术总监和财务总监")."""
    for word in _JOINERS:
        gap = gap.replace(word, " ")
    return not gap.strip()
