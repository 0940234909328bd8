"""Job titles to buying roles by function, not by a fixed list of titles.

A title is read as (function, rank) in Chinese, English or both: "Director of Information
Security", "临床运营负责人", "Sr. Manager 采购". The function decides the role; the rank
decides, for business functions, whether the person owns the area (``business_owner``) or
works in it (``end_user``). Executive titles without a function (CEO, 总经理, founder) are the
chief executive; deputies of the chief executive (副总裁, Deputy GM, bare VP) own a business
area. Assistants, secretaries and chiefs of staff relay for a role holder and hold none.
Content owners add function words per role (``Lexicon.extra``, from playbook atoms'
``role_synonyms``); those match any rank.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from copilot import Role
from knowledge import fold

__all__ = ["frontline", "function_role"]

# Function words, strongest first: the first role whose words occur in a title wins
# ("IT采购经理" is procurement, "IT Security Lead" security, "风控合规专员" legal).
# A word starting or ending with a Latin letter must stand as a word there.
_FUNCTIONS: tuple[tuple[Role | None, tuple[str, ...]], ...] = (
    ("business_owner", ("安全生产", "ehs", "环境健康", "health and safety", "hse")),  # not IT security
    (None, (  # administrative and support functions hold no buying role at any rank
        "保安", "门卫", "security guard", "保洁", "食堂", "行政", "前台", "facilities", "office manager",
        "receptionist", "品牌", "brand", "marketing",
        "市场专员", "公关", "pr manager", "social media", "新媒体",
        "content", "copywriter", "designer", "设计师",
        "event", "travel", "investor relations", "投资者关系",
        "工会", "党办", "档案", "mailroom",
        "recruit", "招聘", "talent acquisition", "培训", "board observer",
        "总经办", "intern", "实习", "recruiter", "recruiting",
    )),
    ("it_security", (
        "信息安全", "网络安全", "数据安全", "安全运营",
        "安全架构", "安全负责人", "安全团队", "安全部", "安全官",
        "安全主管", "安全经理", "安全总监", "安全工程师",
        "等保", "渗透", "security", "cyber", "cybersecurity",
        "infosec",
        "ciso", "soc", "soc manager", "identity & access", "identity and access",
    )),
    ("procurement", (
        "采购", "招采", "招标", "投标", "寻源",
        "供应商管理", "procurement", "purchasing", "buyer", "sourcing",
        "vendor manager", "vendor management", "tender",
    )),
    ("legal", (
        "法务", "法律", "法规", "律师", "合规", "regulatory",
        "合同管理", "legal", "counsel", "lawyer", "paralegal", "compliance",
        "contracts", "privacy", "data protection",
    )),
    ("cfo", (
        "财务", "会计", "计财", "预算", "资金", "finance", "financial", "accounting", "accountant",
        "fp&a", "treasurer", "treasury", "controller", "budget", "cfo",
    )),
    ("cto", (
        "信息技术", "信息中心", "信息化", "信息部", "信息科",
        "网络与信息", "技术", "研发", "数据", "数字化",
        "架构", "it", "cto", "cio", "cdo", "technology", "technical", "engineering", "data", "digital",
        "architect", "erp", "hris", "bi", "infrastructure", "information technology", "information officer",
    )),
    ("business_owner", (
        "运营", "业务", "生产", "制造", "门店", "零售",
        "会员", "设备", "风险", "风控", "客服", "教务", "医务",
        "护理", "临床", "质量", "品质", "供应链", "物流", "仓储", "仓库", "事业部", "销售", "运输", "调度",
        "车间", "工厂", "电商", "人力资源", "hrd", "医疗", "校长", "院长",
        "operations", "ops", "clinical", "e-commerce", "ecommerce",
        "patient", "store", "retail", "manufacturing", "production", "plant",
        "supply chain", "logistics", "fleet", "warehouse", "asset", "risk", "fraud", "customer service",
        "customer success", "claims", "sales", "revenue", "maintenance", "quality", "nursing", "medical",
        "academic", "students", "human resources", "operating", "superintendent",
        "provost", "dean", "merchandising", "business", "line of business", "hr",
    )),
)  # fmt: skip
# Ranks that own an area; without one, a business function's person works in it.
_LEADERS = (
    "总经理", "总监", "经理", "主管", "部长", "主任",
    "负责人", "处长", "院长", "副院长", "科长", "厂长", "总裁",
    "副总", "首席", "vp", "head", "director", "chief", "manager", "lead", "leader", "officer", "president",
    "dean", "provost", "superintendent", "owner", "gm", "svp", "evp", "c-level", "bp", "partner", "hrd",
)  # fmt: skip
# Individual contributors of a technical function who use the tool rather than choose it.
_USERS = ("分析师", "analyst")
# Frontline work with no function word.
_FRONTLINE = (
    "一线", "操作工", "药剂师", "pharmacist", "操作员", "员工", "收银", "店员",
    "导购", "护士", "教师", "老师", "司机（使用", "质检员",
    "调度员", "报工员", "计划员", "维修工", "管理员", "专员", "nurse", "teacher", "cashier", "associate",
    "operator", "technician", "agent", "representative", "rep", "clerk", "picker", "packer", "inspector",
    "planner", "scheduler", "dispatcher", "adjuster", "staff", "worker", "end user", "frontline",
)  # fmt: skip
_HELPERS = re.compile(
    r"助理|秘书|assistant to|secretary|chief of staff|personal assistant|executive assistant"
    r"|(?<![a-z])pa(?![a-z])"
)


def _pattern(words: Sequence[str]) -> re.Pattern[str]:
    def one(word: str) -> str:
        word = fold(word)
        left = r"(?<![a-z0-9])" if word[0].isascii() and word[0].isalnum() else ""
        right = r"(?![a-z0-9])" if word[-1].isascii() and word[-1].isalnum() else ""
        return left + re.escape(word) + right

    return re.compile("|".join(one(w) for w in sorted(words, key=len, reverse=True)))


_FUNCTION_PATTERNS = [(role, _pattern(words)) for role, words in _FUNCTIONS]
_LEADER = _pattern(_LEADERS)
_USER = _pattern(_USERS)
_FRONTLINE_WORD = _pattern(_FRONTLINE)


def function_role(title: str, extra: Mapping[Role, Sequence[str]] | None = None) -> tuple[bool, Role | None]:
    """(decided, role) for ``title`` read by function: ``decided`` is False when it names no
    function (the caller then reads executive titles); a helper is decided with no role."""
    folded = fold(title)
    if _HELPERS.search(folded) and not re.search(r"assistant (?:superintendent|director|manager)", folded):
        return True, None
    for owned, words in (extra or {}).items():
        if words and _pattern(words).search(folded):
            return True, owned
    for role, pattern in _FUNCTION_PATTERNS:
        if not pattern.search(folded):
            continue
        if role == "business_owner":
            return True, "business_owner" if _LEADER.search(folded) else "end_user"
        if role == "cto" and _USER.search(folded) and not _LEADER.search(folded):
            return True, "end_user"
        return True, role
    return False, None


def frontline(title: str) -> bool:
    """Frontline work named without a function word (Cashier, 操作工, Forklift Operator)."""
    folded = fold(title)
    return bool(_FRONTLINE_WORD.search(folded)) and not _LEADER.search(folded)
