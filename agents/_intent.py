"""What the customer is asking or objecting to now, by rules over folded text (zh and en).

The same classifier reads an atom's title and scenario (written in the rep's words), so a
reply can be matched to the turn it answers on any knowledge base. ``classify`` returns the
intents found, strongest first; words are matched on folded text, Latin ones as whole words.
"""

from __future__ import annotations

import functools
import re
from typing import Literal

from knowledge import fold

__all__ = ["INTENTS", "Intent", "classify", "intent_counts"]

Intent = Literal[
    "discount",
    "price",
    "competitor",
    "superlative",
    "guarantee",
    "timeline",
    "security",
    "integration",
    "material",
    "sign",
    "stall",
]

# Order breaks ties: the more specific asks (discount, superlative, guarantee) come first.
_WORDS: dict[Intent, tuple[str, ...]] = {
    "discount": (
        "折扣", "打折", "打个折", "几折", "五折", "八折",
        "九折", "优惠", "便宜点", "便宜一点", "降价", "让利",
        "底价", "最低价", "再低", "少一点", "抹零", "返点", "减免",
        "discount", "cheaper", "% off", "percent off", "price cut", "lower the price", "best price",
        "rebate", "special price", "knock off",
        "come down on price", "bring the price down", "bring it down",
    ),
    "price": (
        "价格", "报价", "贵", "预算", "费用", "成本",
        "多少钱", "价钱", "超支", "花费", "投入", "付款", "收费",
        "price", "pricing", "expensive", "cost", "costs",
        "budget", "quote", "afford", "tco", "fees",
        "licen", "per seat", "subscription", "payment terms", "spend",
    ),
    "competitor": (
        "竞品", "友商", "别家", "其他厂商", "另一家",
        "其他家", "对比", "相比", "比你们", "比较一下", "也在谈",
        "competitor", "compared", "comparison", "versus", "vs", "alternative", "other vendor",
        "another vendor", "other vendors",
        "also talking to", "also looking at", "cheaper elsewhere",
    ),
    "superlative": (
        "第一", "最好", "最强", "排名", "数一数二", "最大",
        "最领先", "头部", "龙头", "最牛", "顶尖", "排第几",
        "number one", "no. 1", "#1", "the best", "best in", "market leader", "leading", "ranked",
        "ranking", "top vendor", "top player", "biggest", "world class",
    ),
    "guarantee": (
        "保证", "承诺", "确保", "百分之百", "100%",
        "不停机", "零风险", "回本", "投资回报", "roi", "写进合同",
        "打包票", "兜底", "赔偿", "可用性", "稳定性",
        "guarantee", "guaranteed", "promise",
        "commit to", "uptime", "payback", "return on investment",
        "in writing", "risk-free", "risk free", "sla", "penalty", "penalties", "money back",
    ),
    "timeline": (
        "多久", "周期", "工期", "上线时间", "多长时间",
        "几个月", "几周", "排期", "进度", "来得及", "什么时候能",
        "多快", "赶在", "之前上线", "月底", "年底前", "上线",
        "timeline", "how long", "go live", "go-live", "weeks", "months", "deadline", "schedule",
        "how quickly", "how fast", "implementation time", "by the end of", "launch", "rollout",
    ),
    "security": (
        "安全", "隐私", "本地部署", "私有化", "等保", "合规",
        "出境", "加密", "驻留", "数据存", "数据放", "泄露",
        "权限", "审计", "认证", "个人信息", "境内",
        "security", "secure", "data residency", "on-prem", "on prem", "on premises", "on-premises",
        "privacy", "gdpr", "encryption", "encrypted",
        "compliance", "iso", "soc 2", "soc2", "certified",
        "certification", "leave the country", "stays in", "hosted", "breach", "audit", "pen test",
    ),
    "integration": (
        "集成", "对接", "接口", "迁移", "兼容", "现有系统",
        "erp", "sap", "打通", "数据导入", "切换", "替换",
        "老系统", "旧系统", "用友", "金蝶",
        "integrate", "integration", "integrations", "api",
        "apis", "migrate", "migration", "connect",
        "connector", "legacy", "existing system",
        "compatible", "plug into", "salesforce", "switch over",
    ),
    "material": (
        "资料", "案例", "白皮书", "材料", "发一下", "发我",
        "发给我", "文档", "演示", "报告", "参考", "介绍一下",
        "客户名单", "样板",
        "material", "materials", "case study", "case studies", "brochure", "deck", "document",
        "documentation", "send me", "send over", "reference", "references", "whitepaper", "demo",
        "examples", "one-pager", "datasheet",
    ),
    "sign": (
        "签约", "签合同", "合同", "下单", "盖章", "走流程",
        "定下来", "签了", "签字", "采购流程", "下周签", "就签",
        "sign", "signing", "contract", "purchase order", "paperwork", "go ahead", "move forward",
        "proceed", "ready to buy", "order form", "next week to sign", "close this",
    ),
    "stall": (
        "考虑", "再说", "再看看", "不急", "以后", "明年",
        "内部讨论", "暂时", "回头", "研究一下", "等等看", "先放",
        "没时间", "太忙", "缓一缓", "再议",
        "think about it", "think it over", "get back to you",
        "later", "not now", "next year", "hold off",
        "circle back", "discuss internally", "no rush",
        "busy", "revisit", "put it on hold", "pause",
        "not a priority",
    ),
}  # fmt: skip
INTENTS: tuple[Intent, ...] = tuple(_WORDS)


def _pattern(word: str) -> str:
    """Latin words stand as words, with their inflections ("budget" matches "budgeted")."""
    left = r"(?<![a-z0-9])" if word[0].isascii() and word[0].isalnum() else ""
    if word == "licen" or not (word[-1].isascii() and word[-1].isalnum()):
        return left + re.escape(word)
    inflected = "(?:s|es|ed|d|ing)?" if word[-1].isalpha() else ""
    return left + re.escape(word) + inflected + r"(?![a-z0-9])"


_MATCHERS: dict[Intent, re.Pattern[str]] = {
    intent: re.compile("|".join(_pattern(fold(w)) for w in sorted(words, key=len, reverse=True)))
    for intent, words in _WORDS.items()
}


@functools.lru_cache(maxsize=4096)
def _counts(folded: str) -> tuple[tuple[Intent, int], ...]:
    return tuple((intent, len(rx.findall(folded))) for intent, rx in _MATCHERS.items())


def intent_counts(text: str, *, competitor_named: bool = False) -> dict[Intent, int]:
    """How many words of each intent ``text`` has (intents without any left out)."""
    counts = dict(_counts(fold(text)))
    if competitor_named:
        counts["competitor"] += 2
    return {intent: n for intent, n in counts.items() if n}


def classify(text: str, *, competitor_named: bool = False) -> list[Intent]:
    """The intents ``text`` carries, strongest first (more words, then table order)."""
    counts = intent_counts(text, competitor_named=competitor_named)
    return sorted(counts, key=lambda intent: (-counts[intent], INTENTS.index(intent)))
