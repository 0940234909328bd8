"""Competitor matching: names and aliases in any script and width, without mistaking
everyday words (磐石 "bedrock", 极光 "aurora", 星图 "star chart") for a vendor."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from agents import AgentContext, CompetitorAgent, CompetitorMatcher
from copilot import Conversation
from knowledge import Atom, Retrieval


def battlecard(atom_id: str, names: list[str], body: str = "按同样范围对比两家方案。") -> Atom:
    return Atom(
        id=atom_id,
        type="competitor",
        title=names[0],
        language="zh",
        competitors=names,
        status="approved",
        approved_by="legal@example.com",
        version=1,
        body=body,
    )


CARDS = [
    battlecard("comp-auroradw", ["极光数仓", "极光", "AuroraDW", "Aurora DW"]),
    battlecard("comp-panshi", ["磐石云", "磐石", "Panshi Cloud", "PanshiCloud"]),
    battlecard("comp-xingtu", ["星图智造", "星图", "StarMap MES", "StarMap"]),
]
MATCHER = CompetitorMatcher(CARDS)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("极光那边报价更低", "极光数仓"),
        ("我们也在看星图的方案", "星图智造"),
        ("磐石的价格便宜两成", "磐石云"),
        ("极光数仓报价比你们低", "极光数仓"),
        ("我们在对比磐石云", "磐石云"),
        ("星图智造来做过演示", "星图智造"),
        ("极光数仓", "极光数仓"),
        ("We are also talking to AuroraDW", "极光数仓"),
        ("aurora dw quoted less", "极光数仓"),
        ("Panshi Cloud offered a free POC", "磐石云"),
        ("StarMap MES has better scheduling", "星图智造"),
        ("我们也在接触 AuroraDW", "极光数仓"),
        ("ＳｔａｒＭａｐ 的排产更成熟", "星图智造"),
        ("starmap", "星图智造"),
        ("STARMAP's quote", "星图智造"),
        ("星图MES上线更快", "星图智造"),
        ("磐石家的报价比您这边低", "磐石云"),
        ("现在用的是极光", "极光数仓"),
        ("坚如磐石的系统不多，磐石那边报价更低", "磐石云"),  # the idiom is skipped, the vendor found
    ],
)
def test_names_and_aliases_are_found(text: str, canonical: str) -> None:
    assert MATCHER.find(text) == canonical


@pytest.mark.parametrize(
    "text",
    [
        "坚如磐石",
        "我们的系统要坚如磐石",  # a cue (系统) does not rescue an idiom
        "像磐石一样",
        "他们的平台像磐石一样稳定",
        "卫星图像分析",
        "我们公司在做卫星图像分析平台",
        "北欧出差看到了极光",
        "北极光很美",
        "南极光的照片，系统里存了一份",
        "星图",  # a bare short alias with no cue
        "Starmapping tools",  # Latin aliases stand as words
        "auroradwh",
        "mypanshi cloud",
        "",
    ],
)
def test_everyday_words_are_not_competitors(text: str) -> None:
    assert MATCHER.find(text) is None


def test_the_cue_must_be_in_the_same_clause() -> None:
    assert MATCHER.find("去年去北欧看了极光，今年预算很紧，价格要低") is None
    assert MATCHER.find("去年去北欧看了极光，极光那边的价格更低") == "极光数仓"


def test_the_alias_itself_is_not_its_own_cue() -> None:
    matcher = CompetitorMatcher([battlecard("comp-feiyun", ["飞云科技", "飞云"])])
    assert matcher.find("飞云") is None  # 云 is a cue, but here it belongs to the alias
    assert matcher.find("飞云的报价更低") == "飞云科技"


def test_the_first_competitor_named_wins() -> None:
    assert MATCHER.find("磐石和极光数仓都报了价") == "磐石云"
    assert MATCHER.find("看到了极光，也在看星图的方案") == "星图智造"


def test_no_battlecards_no_match() -> None:
    assert CompetitorMatcher([]).find("极光数仓报价更低") is None


def context(*texts: str) -> AgentContext:
    conversation = Conversation.model_validate(
        {
            "id": "t-1",
            "deal": {"customer": "华东精工", "product": "MES Cloud"},
            "participants": [{"id": "r", "side": "rep"}, {"id": "c", "side": "customer"}],
            "messages": [{"from": "c", "text": text} for text in texts],
        }
    )
    retrieval = Retrieval(candidates=[], battlecards=CARDS, playbooks=[])
    return AgentContext(conversation, "zh", retrieval, date(2026, 11, 22))


def test_agent_answers_the_newest_real_mention() -> None:
    ctx = context("磐石那边报价更低。", "上周去北欧出差看到了极光，系统的事回来再说。")
    result = asyncio.run(CompetitorAgent().run(ctx))
    assert result is not None
    assert (result.name, result.claim, result.citations) == ("磐石云", "磐石那边报价更低", ["comp-panshi"])


def test_agent_stays_silent_on_idioms() -> None:
    ctx = context("希望你们的系统坚如磐石。", "卫星图像分析也要支持。")
    assert asyncio.run(CompetitorAgent().run(ctx)) is None


def test_the_claim_is_plain_text() -> None:
    """No control or bidi characters, no URL, no markup reach the rep from customer text."""
    ctx = context("**极光数仓**\u202e报价更低 https://evil.example/x <b>看这里</b>\x1b[31m")
    result = asyncio.run(CompetitorAgent().run(ctx))
    assert result is not None and result.claim == "极光数仓报价更低 看这里"
    assert not any(ch in result.claim for ch in "\u202e\x1b*<>") and "http" not in result.claim


def test_the_guard_uses_the_same_matcher_short_aliases_need_a_cue() -> None:
    from agents import ComplianceGuard

    guard = ComplianceGuard(competitor_names=[n for card in CARDS for n in card.competitors])
    # 磐石 in an idiom names nobody: the negative word is about our own system's neighbour sentence.
    assert guard.check("suggestion[0]", "我们的系统坚如磐石。").text == "我们的系统坚如磐石。"
    assert guard.check("suggestion[0]", "坚如磐石的系统不会不稳定吧").text is not None
    blocked = guard.check("suggestion[0]", "磐石那边的系统很不稳定。")
    assert blocked.text is None and "磐石" in blocked.verdicts[0].detail
