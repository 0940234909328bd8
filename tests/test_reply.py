"""The grounded reply agent on knowledge built in code: what the replies say and cite,
and what they must never say (internal text, volunteered discounts, unshown approvals)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest

from agents import AgentContext, GuidanceAgent, ReplyAgent
from agents._intent import classify
from copilot import Conversation, Guidance, Suggestion
from knowledge import Atom, Retrieval, ScoredAtom, chat_length

TODAY = date(2026, 11, 22)


def atom(atom_id: str, body: str, *, scenario: str, kind: str = "objection", **extra: Any) -> Atom:
    language = "en" if body.isascii() else "zh"
    fields: dict[str, Any] = {"status": "approved", "approved_by": "x@example.com", "version": 1}
    return Atom(
        id=atom_id,
        type=kind,
        title=atom_id,
        language=language,
        scenario=scenario,
        body=body,
        **fields,
        **extra,
    )


def press(
    text: str, atoms: list[Atom], *, title: str = "", stage: str = "proposal"
) -> tuple[list[Suggestion], list[Guidance]]:
    conversation = Conversation.model_validate(
        {
            "id": "t:reply",
            "deal": {"customer": "华东精工", "stage": stage, "product": "MES Cloud"},
            "participants": [
                {"id": "rep", "name": "王磊", "side": "rep"},
                {"id": "c", "name": "李总", "side": "customer", "title": title},
            ],
            "messages": [{"from": "c", "text": text}],
        }
    )
    scored = [ScoredAtom(a, 0.5 - i / 100) for i, a in enumerate(atoms)]
    ctx = AgentContext(
        conversation=conversation,
        language="en" if text.isascii() else "zh",
        retrieval=Retrieval(candidates=scored, battlecards=[], playbooks=[]),
        today=TODAY,
    )
    return asyncio.run(ReplyAgent().run(ctx)), asyncio.run(GuidanceAgent().run(ctx))


PRICE = atom(
    "obj-price",
    "明白，预算确实要认真算。我们可以把{product}拆成两期，首期投入更贴近预算。",
    scenario="客户觉得价格高、预算不够",
)
SECURITY = atom("obj-security", "数据在传输和存储时都加密。我们支持本地部署。", scenario="客户担心数据安全")
POLICY = atom(
    "pol-discount",
    "内部口径，请勿转发客户：超过15%的折扣需要交易审批，销售不得当场承诺。",
    scenario="客户要求大幅折扣，比如打五折",
    kind="policy",
    legal_basis=["《价格授权制度》第3条"],
)


def test_the_reply_answers_the_last_turn_with_the_fitting_atom() -> None:
    replies, _ = press("你们的价格比我们的预算高太多了", [SECURITY, PRICE])
    assert replies[0].citations == ["obj-price"]
    assert "MES Cloud" in replies[0].text and "{" not in replies[0].text
    assert all("obj-security" not in r.citations for r in replies[:3])


def test_three_approaches_a_fact_a_question_a_next_step() -> None:
    other = atom("obj-price-2", "按三年总成本看，节省的人力很可观。", scenario="客户嫌报价贵")
    replies, _ = press("价格太贵了", [PRICE, other])
    first, second, third = replies[:3]
    assert not first.text.endswith("？") and second.text.endswith("？")
    assert len({first.text, second.text, third.text}) == 3


def test_internal_text_is_guidance_never_a_reply() -> None:
    internal_script = atom(
        "script-internal", "内部话术：先别提价格底线，拖到月底再说。", scenario="客户要求打折", kind="script",
        audience="internal",
    )  # fmt: skip
    replies, guidance = press("能不能打五折？", [POLICY, internal_script, PRICE])
    shown = " ".join(r.text for r in replies)
    assert "内部" not in shown and "底线" not in shown and "交易审批" not in shown
    assert all(r.citations[-1] == "pol-discount" for r in replies)  # the policy lends its basis
    assert all("《价格授权制度》第3条" in r.legal_basis for r in replies)
    assert [g.citations for g in guidance] == [["pol-discount"], ["script-internal"]]
    assert "超过15%的折扣需要交易审批" in guidance[0].text and "《价格授权制度》第3条" in guidance[0].text


def test_a_long_case_is_quoted_by_its_relevant_sentences_as_plain_text() -> None:
    body = "\n".join(
        ["## 案例：某汽车零部件企业", "- 背景：多个工厂，排产靠 Excel。"]
        + [f"- 第{i}期：上线了第{i}条产线的报工和质检模块，过程顺利，团队反馈良好。" for i in range(1, 12)]
        + ["- 结果：上线后交付周期缩短了约20%，实施周期为三个月。"]
    )
    case = atom("case-auto", body, scenario="客户问实施周期要多久", kind="case")
    replies, _ = press("你们实施周期一般要多久？", [case])
    top = replies[0]
    assert top.citations == ["case-auto"]
    assert "#" not in top.text and "- " not in top.text and "\n" not in top.text
    assert chat_length(top.text, "zh") <= 300
    assert "实施周期为三个月" in top.text


def test_no_volunteered_discount_and_no_unshown_approval() -> None:
    promo = atom(
        "script-sign",
        "感谢贵司财务总监批准了预算！年底前签约可以额外打九折。我这边先把合同发您。",
        scenario="客户准备签约",
        kind="script",
    )
    replies, _ = press("合同下周能签吗？", [promo])
    shown = " ".join(r.text for r in replies)
    assert "我这边先把合同发您" in shown
    assert "九折" not in shown and "批准" not in shown


def test_an_approval_the_chat_shows_may_be_mentioned() -> None:
    thanks = atom(
        "script-thanks", "感谢财务总监认可预算。我把合同发您。", scenario="客户准备签约", kind="script"
    )
    replies, _ = press("财务总监已经同意预算了。合同下周能签吗？", [thanks])
    assert "感谢财务总监认可预算" in replies[0].text


def test_english_replies_stay_within_80_words() -> None:
    long = atom(
        "prod-long",
        " ".join(
            f"Our platform connects to system number {i} through a documented open API." for i in range(20)
        ),
        scenario="The customer asks whether we integrate with their ERP",
        kind="product",
    )
    replies, _ = press("Can you integrate with our SAP ERP?", [long])
    assert replies and all(chat_length(r.text, "en") <= 80 for r in replies)
    assert replies[0].citations == ["prod-long"]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("价格比预算高了不少", "price"),
        ("The price is way above our budget", "price"),
        ("能不能打个八五折？", "discount"),
        ("Can you do 20% off?", "discount"),
        ("极光数仓比你们便宜，你们优势在哪？", "competitor"),
        ("Why should we pick you over the other vendor?", "competitor"),
        ("你们是不是行业第一？", "superlative"),
        ("Are you the market leader?", "superlative"),
        ("能保证100%不停机吗？", "guarantee"),
        ("Will you guarantee the ROI in writing?", "guarantee"),
        ("上线要多久？", "timeline"),
        ("How long until go-live?", "timeline"),
        ("数据会不会出境？有没有等保三级？", "security"),
        ("Is our data encrypted at rest?", "security"),
        ("能和用友对接吗？", "integration"),
        ("Does it integrate with Workday?", "integration"),
        ("有白皮书吗？发我一份", "material"),
        ("Could you send me a case study?", "material"),
        ("合同发我，这周盖章", "sign"),
        ("Send over the paperwork and we'll sign", "sign"),
        ("我们再考虑考虑，过了年再说", "stall"),
        ("Let me think about it and circle back", "stall"),
    ],
)
def test_intent_of_the_last_turn(text: str, intent: str) -> None:
    assert classify(text)[:1] == [intent]
