"""The decision chain on 24 chats written before the agent was run on them
(tests/data/decision_chain_fresh: 12 WeCom chats in Chinese, 12 Slack chats in English,
each naming buying roles by title, mention, nickname, bracket, abbreviation, org-chart
phrase, negation or as someone's boss), and the general rules their misses led to.

``python benchmarks/decision_chain_fresh.py`` runs the same chats through the whole engine
and prints the misses and false finds."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

import pytest
import yaml

from agents import AgentContext, DecisionChainAgent
from agents._decision_chain import stated_roles
from agents._roles import self_introduction
from copilot import Conversation, redact_conversation
from knowledge import Retrieval, fold, load_atoms

DATA = Path(__file__).parent / "data" / "decision_chain_fresh"
KB = Path(__file__).parent.parent / "examples" / "kb"
EXPECTED: dict[str, dict[str, object]] = yaml.safe_load((DATA / "expected.yaml").read_text(encoding="utf-8"))
ATOMS = load_atoms(KB)


def covered(conversation: Conversation) -> set[str]:
    """Roles the agent finds covered, on the redacted chat as the engine gives it."""
    redacted = redact_conversation(conversation)
    industry = conversation.deal.industry
    playbooks = [a for a in ATOMS if a.type == "playbook" and (not a.industries or industry in a.industries)]
    battlecards = [a for a in ATOMS if a.type == "competitor"]
    retrieval = Retrieval(candidates=[], battlecards=battlecards, playbooks=playbooks)
    language = "zh" if conversation.channel == "wecom" else "en"
    context = AgentContext(
        conversation=redacted, language=language, retrieval=retrieval, today=date(2026, 11, 29)
    )
    report = asyncio.run(DecisionChainAgent().run(context))
    return {c.role for c in report.covered}


def test_every_chat_has_its_expectation() -> None:
    assert sorted(EXPECTED) == sorted(p.name for p in DATA.glob("*.json"))
    assert len(EXPECTED) == 24


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fresh_chat_covers_exactly_the_expected_roles(name: str) -> None:
    conversation = Conversation.model_validate(json.loads((DATA / name).read_text(encoding="utf-8")))
    assert covered(conversation) == set(EXPECTED[name]["covered"]), EXPECTED[name]["why"]  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A bare "IT" is the IT department in capitals or beside Chinese, never the pronoun.
        ("IT那边已经确认过接口方案了，没问题。", {("cto", "involved"), ("cto", "approved")}),
        ("it部已经看过方案了", {("cto", "reviewed")}),
        ("IT signed off yesterday.", {("cto", "approved")}),
        ("Our CFO and IT reviewed the deck.", {("cfo", "reviewed"), ("cto", "reviewed")}),
        ("Wait, is it possible to split it? It was approved.", set()),
        ("it signed off yesterday", set()),
        ("We moved the code to GitLab and the AUDIT passed.", set()),
        ("IT has to sign off before we can proceed.", set()),
        # An appositive or a description names the role of whoever is named before it.
        ("My boss, the COO, saw the demo yesterday.", {("business_owner", "reviewed")}),
        ("The COO, my boss, saw the demo yesterday.", {("business_owner", "reviewed")}),
        ("我们领导，就是分管财务的副总，昨天已经把预算批下来了。", {("cfo", "approved")}),
        ("采购部，已经看过了", {("procurement", "reviewed")}),
        ("【CFO】已审批", {("cfo", "approved")}),
        ("财务总监，还没看过。", set()),
        ("The CFO, not involved yet.", set()),
        # "my boss" alone is whoever the speaker reports to: no role.
        ("My boss approved it.", set()),
        # A sister company's people are another company's.
        ("our sister company's CTO recommended you", set()),
        ("我们兄弟公司的CTO推荐的你们", set()),
    ],
)
def test_bare_it_appositives_and_bosses(text: str, expected: set[tuple[str, str]]) -> None:
    assert set(stated_roles(text)) == expected


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("您好，我是采购部的王经理，这个项目后面由我来对接。", "procurement"),
        ("我是财务", "cfo"),
        ("I'm the CFO", "cfo"),
        ("Hi, I'm from Finance.", "cfo"),
        ("I'm in procurement", "procurement"),
        ("I'm the head of IT at Acme", "cto"),
        ("I run purchasing here", "procurement"),
        ("I lead the finance team", "cfo"),
        ("I'm in a meeting with legal", None),
        ("我是说财务那边还没看", None),
        ("我是想问一下财务那边", None),
        ("我是跟财务对接的", None),
        ("我是财务总监助理", None),
        ("I'm the one who reviewed it", None),
    ],
)
def test_self_introduction_gives_the_speaker_a_title(text: str, role: str | None) -> None:
    found = self_introduction(fold(text))
    assert (found[0] if found else None) == role


def test_a_self_introduced_speaker_speaks_for_the_role() -> None:
    conversation = Conversation.model_validate(
        {
            "id": "test:self-intro",
            "deal": {"customer": "华东精工", "industry": "manufacturing", "stage": "proposal"},
            "participants": [
                {"id": "rep-1", "name": "王磊", "side": "rep"},
                {"id": "c-1", "name": "王建国", "side": "customer"},
                {"id": "c-2", "name": "李娜", "side": "customer"},
            ],
            "messages": [
                {"from": "rep-1", "text": "我是财务这边的对接人"},  # the rep's words are no evidence
                {"from": "c-1", "text": "我是采购部的王经理。"},
                {"from": "c-1", "text": "报价我们看过了。"},
                {"from": "c-2", "text": "我是说法务那边还没看。"},
            ],
        }
    )
    assert covered(conversation) == {"procurement"}
