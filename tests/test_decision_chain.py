"""The decision-chain agent on small conversations built in code: which sentences cover
which buying role at which state, and which job titles hold which role."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from agents import AgentContext, DecisionChainAgent, find_roles, role_of_title
from copilot import Conversation, DecisionChainReport
from knowledge import Atom, Retrieval

TODAY = date(2026, 11, 22)
PLAYBOOK = Atom(
    id="pb-test-manufacturing",
    type="playbook",
    title="制造业采购决策链（测试）",
    language="zh",
    industries=["manufacturing"],
    status="approved",
    approved_by="sales-ops@example.com",
    version=1,
    required_roles={"proposal": ["cto", "cfo", "procurement"]},
    body="方案阶段需要技术、财务和采购。",
)
BATTLECARD = Atom(
    id="comp-test-auroradw",
    type="competitor",
    title="极光数仓",
    language="zh",
    competitors=["极光数仓", "AuroraDW"],
    status="approved",
    approved_by="pmm@example.com",
    version=1,
    body="我们按三年总拥有成本对比。",
)


def run_chain(
    *messages: str, title: str = "", sender: str = "c-1", battlecards: list[Atom] | None = None
) -> DecisionChainReport:
    """The agent's report on a manufacturing deal at proposal stage; ``sender`` sends every message."""
    conversation = Conversation.model_validate(
        {
            "id": "test:decision-chain",
            "deal": {"customer": "华东精工", "industry": "manufacturing", "stage": "proposal"},
            "participants": [
                {"id": "rep-1", "name": "王磊", "side": "rep"},
                {"id": "c-1", "name": "李总", "side": "customer", "title": title},
            ],
            "messages": [{"from": sender, "text": text} for text in messages],
        }
    )
    retrieval = Retrieval(candidates=[], battlecards=battlecards or [], playbooks=[PLAYBOOK])
    context = AgentContext(conversation=conversation, language="zh", retrieval=retrieval, today=TODAY)
    return asyncio.run(DecisionChainAgent().run(context))


def stated(report: DecisionChainReport) -> dict[str, str]:
    """Role -> state for the roles a message covered (not a participant's title)."""
    return {c.role: c.state for c in report.covered if c.evidence is not None}


STATEMENTS = [
    # The reviewer's false positives: none of these covers the role (at that state).
    ("我通过邮件把报价转给财务了", {}),  # 通过 = "via"
    ("如果CFO不同意，我们就没法推进", {}),
    ("我们CFO说如果价格再降就批准", {}),
    ("Our CFO is not happy with the price", {}),
    ("Our CFO would like the price to be lower", {}),
    ("Has the CFO reviewed it?", {}),
    ("财务会参与吗？", {}),
    ("竞品那边的CTO认可了他们的方案", {}),
    # The reviewer's false negatives: each covers exactly this.
    ("The CTO approved it but the CFO hasn't seen it yet", {"cto": "approved"}),
    ("技术总监已经同意了，但财务还没看过", {"cto": "approved"}),
    ("技术总监已经同意了但财务还没看过", {"cto": "approved"}),
    ("技术总监已经同意了财务还没看过", {"cto": "approved"}),
    ("CFO signed off on the proposal without any changes", {"cfo": "approved"}),
    ("财务总监看了方案，说没有问题", {"cfo": "approved"}),
    ("财务总监看了方案说没问题", {"cfo": "approved"}),
    # What already worked keeps working.
    ("我们财务总监王总也看过报价了", {"cfo": "reviewed"}),
    ("采购还没参与", {}),
    ("财务总监已经审批通过了", {"cfo": "approved"}),
    ("评审通过了，CFO也已通过", {"cfo": "approved"}),
    # Neighbours of the reviewer's sentences.
    ("如果价格再降，CFO就批准", {}),  # the condition covers its whole sentence
    ("财务会同意的，只要价格合适", {}),  # also when it comes last
    ("The CTO approved it but if the CFO agrees we can sign", {"cto": "approved"}),
    ("技术总监已经认可了，但如果财务不同意就没法签", {"cto": "approved"}),
    ("CFO不批准", {}),
    ("CFO没同意", {}),
    ("The CFO disagreed with the payment terms", {}),
    ("The CFO rejected the proposal", {}),
    ("CFO看过了但不认可", {"cfo": "reviewed"}),
    ("Has the CFO reviewed it, or not yet?", {}),
    ("财务是否看过方案", {}),
    ("财务看过方案了吗", {}),
    ("技术总监已经同意了，但财务看过吗？", {"cto": "approved"}),
    ("The competitor's CTO approved their plan", {}),
    ("我们CTO认可了，但友商那边的CTO也认可了他们的方案", {"cto": "approved"}),
    ("财务他们那边已经看过了", {"cfo": "reviewed"}),  # a role's own people, not another company
    ("The CFO hasn't seen it but we looped in procurement", {"procurement": "involved"}),
    ("The CTO hasn't seen it and the CFO approved it", {"cfo": "approved"}),
    ("No one from finance has seen it", {}),
    ("I don't think the CFO has seen it", {}),
    ("We need the CFO's sign-off", {}),
    ("技术总监和财务总监都看过了", {"cto": "reviewed", "cfo": "reviewed"}),
    ("The CTO and the CFO approved it", {"cto": "approved", "cfo": "approved"}),
    ("我拉了财务总监进群", {"cfo": "involved"}),
    ("我还没拉财务进群", {}),
    ("财务这周参与不了", {}),
    ("Approved by the CFO yesterday.", {"cfo": "approved"}),
    ("The CFO was looped in", {"cfo": "involved"}),
    ("财务总监应该没问题", {}),  # a guess is not a fact
    ("采购还没参与，不过没问题", {}),
    ("总经理助理说总经理已经同意了", {"ceo": "approved"}),
    ("副总裁已经批准了", {"business_owner": "approved"}),
    ("Our VP of Sales signed off", {"business_owner": "approved"}),
]


@pytest.mark.parametrize(("text", "expected"), STATEMENTS, ids=[text for text, _ in STATEMENTS])
def test_statement_covers_exactly(text: str, expected: dict[str, str]) -> None:
    assert stated(run_chain(text)) == expected, text


def test_design_example_quotes_the_clause_and_names_the_speaker() -> None:
    report = run_chain("方案我们技术这边认可了，但价格比预算高不少。", title="CTO")
    [cto] = report.covered
    assert (cto.role, cto.state, cto.who) == ("cto", "approved", "李总")
    assert cto.evidence is not None and cto.evidence.quote == "方案我们技术这边认可了"
    assert report.required_roles == ["cto", "cfo", "procurement"]
    assert report.missing_roles == ["cfo", "procurement"]


def test_a_clause_without_a_role_continues_the_role_before_it() -> None:
    [cfo] = run_chain("财务总监看了方案，说没有问题。").covered
    assert (cfo.role, cfo.state, cfo.who) == ("cfo", "approved", "")
    assert cfo.evidence is not None and cfo.evidence.quote == "财务总监看了方案，说没有问题"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我这边没问题", {"cfo": "approved"}),  # the speaker is the CFO
        ("技术总监看过了，我们这边也没问题", {"cto": "reviewed", "cfo": "approved"}),
        ("技术总监看过了，说没问题", {"cto": "approved"}),
        ("我还没看过", {}),
        ("如果价格合适我这边就同意", {}),
    ],
)
def test_a_clause_without_a_role_speaks_for_the_speaker_or_the_role_before(
    text: str, expected: dict[str, str]
) -> None:
    assert stated(run_chain(text, title="财务总监")) == expected, text


def test_rep_messages_are_never_evidence() -> None:
    report = run_chain("CFO已经批准了，采购也参与了", sender="rep-1")
    assert report.covered == []
    assert report.missing_roles == ["cto", "cfo", "procurement"]


def test_a_battlecard_competitor_is_another_company() -> None:
    text = "极光数仓那边的CTO认可了他们的方案"
    assert stated(run_chain(text, battlecards=[BATTLECARD])) == {}
    assert stated(run_chain("我们CTO认可了，AuroraDW的CTO还没有", battlecards=[BATTLECARD])) == {
        "cto": "approved"
    }


def test_later_and_stronger_evidence_wins() -> None:
    report = run_chain("财务总监会参加下周的会", "财务总监看过报价了", "CFO approved it.")
    [cfo] = report.covered
    assert cfo.state == "approved"
    assert cfo.evidence is not None and (cfo.evidence.message, cfo.evidence.quote) == (2, "CFO approved it")
    assert report.missing_roles == ["cto", "procurement"]


TITLES = [
    # Helpers and deputies of the chief executive are never the CEO.
    ("总经理助理", None),
    ("Assistant to the CEO", None),
    ("CEO's assistant", None),
    ("董事长秘书", None),
    ("副总裁", "business_owner"),
    ("副总经理", "business_owner"),
    ("Deputy General Manager", "business_owner"),
    ("Vice President of Sales", "business_owner"),
    ("VP Sales", "business_owner"),
    ("Vice President of Finance", "cfo"),  # a named function wins over a rank
    ("Deputy CFO", "cfo"),
    # Chief officers, in both languages.
    ("Chief Financial Officer", "cfo"),
    ("Chief Executive Officer", "ceo"),
    ("Chief Information Security Officer", "it_security"),
    ("首席技术官", "cto"),
    ("首席执行官", "ceo"),
    ("首席财务官", "cfo"),
    ("首席信息官", "cto"),
    ("首席信息安全官", "it_security"),
    ("IT经理", "cto"),
    ("信息部经理", "cto"),
    # Titles that already worked.
    ("总经理", "ceo"),
    ("CEO", "ceo"),
    ("CTO", "cto"),
    ("技术总监", "cto"),
    ("IT负责人", "cto"),
    ("Head of IT", "cto"),
    ("财务总监", "cfo"),
    ("VP Finance", "cfo"),
    ("采购经理", "procurement"),
    ("CISO", "it_security"),
    ("厂长", "business_owner"),
    ("Plant Manager", "business_owner"),
    ("班组长", "end_user"),
    ("Head of Merchandising", "business_owner"),  # a business function's head owns it
    ("Account Executive", None),
    ("audit经理", None),  # "it" inside a Latin word is not IT
]


@pytest.mark.parametrize(("title", "role"), TITLES, ids=[title for title, _ in TITLES])
def test_role_of_title(title: str, role: str | None) -> None:
    assert role_of_title(title) == role


def test_a_helper_title_covers_no_role() -> None:
    assert run_chain("您好", title="总经理助理").covered == []
    [owner] = run_chain("您好", title="副总裁").covered
    assert (owner.role, owner.state, owner.evidence) == ("business_owner", "involved", None)


def test_find_roles_gives_positions_in_order() -> None:
    assert list(find_roles("总经理助理说总经理和ＣＦＯ都同意了")) == [("ceo", 6, 9), ("cfo", 10, 13)]
