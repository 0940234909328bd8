"""The engine and its agents on the sample conversations, end to end on embedded defaults."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from audit import SQLiteAuditStore
from copilot import Conversation, Copilot, Settings, SuggestionSet
from knowledge import CJK, BilingualEmbedding, ChromaAtomStore, chat_length, ingest_atoms, load_atoms
from prompts import load_prompt

TODAY = date(2026, 11, 22)
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def copilot(tmp_path_factory: pytest.TempPathFactory, embedding: BilingualEmbedding) -> Iterator[Copilot]:
    home = tmp_path_factory.mktemp("engine-home")
    settings = Settings(home=home)
    store = ChromaAtomStore.embedded(settings.chroma_path, "atoms", embedding)
    ingest_atoms(load_atoms(EXAMPLES / "kb"), store)
    engine = Copilot(settings, store, SQLiteAuditStore(settings.audit_path), today=lambda: TODAY)
    yield engine
    engine.close()


def conversation(name: str) -> Conversation:
    [path] = (EXAMPLES / "conversations").glob(f"{name}-*.json")
    return Conversation.model_validate(json.loads(path.read_text(encoding="utf-8")))


def suggest(copilot: Copilot, name: str) -> SuggestionSet:
    return asyncio.run(copilot.suggest(conversation(name)))


def cited(result: SuggestionSet) -> list[str]:
    return [c for s in result.suggestions for c in s.citations]


SAMPLES = sorted(p.name.split("-")[0] for p in (EXAMPLES / "conversations").glob("*.json"))


def internal_sentences(copilot: Copilot) -> list[str]:
    """Sentences of internal atoms (policies, playbooks) long enough to recognise if quoted."""
    return [
        part.strip()
        for atom in copilot.store.atoms()
        if not atom.for_customer
        for part in re.split(r"[。！？；.!?;\n]|\\{[a-z]+\\}", atom.body)
        if len(part.strip()) >= 12
    ]


@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_gets_three_distinct_sendable_suggestions(copilot: Copilot, name: str) -> None:
    result = suggest(copilot, name)
    assert len(result.suggestions) == 3
    assert len({s.text for s in result.suggestions}) == 3
    atoms = {a.id: a for a in copilot.store.atoms() if a.is_served(TODAY)}
    secret = internal_sentences(copilot)
    for suggestion in result.suggestions:
        assert set(suggestion.citations) <= set(atoms)
        assert "{" not in suggestion.text  # every placeholder filled
        assert "\n" not in suggestion.text and not re.search(r"^\s*(?:#|- |\* |\d+\. )|\*\*", suggestion.text)
        assert chat_length(suggestion.text, result.language) <= (300 if result.language == "zh" else 80)
        assert not [s for s in secret if s in suggestion.text], "internal text offered as a reply"
    assert result.suggestions[0].citations  # the top reply is grounded in an atom (or a policy's rule)
    assert result.engine == "grounded"
    assert result.fallback is None and result.model == ""
    assert result.prompt_versions == {
        "decision_chain": load_prompt("decision_chain").ref,
        "reply": load_prompt("reply").ref,
        "guidance": load_prompt("reply").ref,  # the guidance labels live in the reply template
    }
    assert {p.engine for p in result.provenance.values()} == {"grounded"}
    assert set(result.atom_versions) >= set(cited(result))


def test_design_example_price_objection_and_missing_cfo(copilot: Copilot) -> None:
    result = suggest(copilot, "01")
    assert "obj-price-too-high-mfg" in cited(result)
    chain = result.decision_chain
    assert chain.required_roles == ["cto", "cfo"]
    [cto] = chain.covered
    assert (cto.role, cto.state) == ("cto", "approved")
    assert cto.evidence is not None and cto.evidence.quote == "方案我们技术这边认可了"
    assert chain.missing_roles == ["cfo"]
    assert chain.next_action is not None and chain.next_action.deadline_hours == 48
    assert "财务" in chain.next_action.text
    shown = " ".join(s.text for s in result.suggestions)
    assert "华东精工" in shown or "MES Cloud" in shown  # placeholders filled from the deal
    assert result.competitor is None


@pytest.mark.parametrize(
    ("name", "canonical", "card"),
    [
        ("02", "极光数仓", "comp-auroradw"),
        ("03", "极光数仓", "comp-auroradw"),  # English alias in a Chinese chat
        ("04", "星图智造", "comp-xingtu"),  # full-width ＳｔａｒＭａｐ
        ("05", "磐石云", "comp-panshi-en"),  # English chat gets the English card
        ("17", "星图智造", "comp-xingtu-en"),  # lower-case alias
    ],
)
def test_competitor_named_in_any_language_or_width(
    copilot: Copilot, name: str, canonical: str, card: str
) -> None:
    result = suggest(copilot, name)
    assert result.competitor is not None
    assert (result.competitor.name, result.competitor.citations) == (canonical, [card])
    assert result.competitor.claim


def test_cfo_covered_by_statement_not_title(copilot: Copilot) -> None:
    chain = suggest(copilot, "07").decision_chain
    cfo = next(c for c in chain.covered if c.role == "cfo")
    assert cfo.state == "reviewed" and cfo.evidence is not None
    assert "财务总监" in cfo.evidence.quote
    assert chain.missing_roles == []


def test_negated_role_is_not_covered(copilot: Copilot) -> None:
    chain = suggest(copilot, "08").decision_chain
    assert "procurement" in chain.missing_roles
    assert "procurement" not in {c.role for c in chain.covered}


def test_only_business_owner_at_negotiation(copilot: Copilot) -> None:
    chain = suggest(copilot, "06").decision_chain
    assert {c.role for c in chain.covered} == {"business_owner"}
    assert set(chain.missing_roles) >= {"cfo", "procurement", "legal"}
    assert chain.next_action is not None and chain.next_action.deadline_hours == 24


@pytest.mark.parametrize(
    ("name", "policy", "basis"),
    [
        ("10", "pol-ad-law-superlative-zh", "《广告法》第九条"),
        ("11", "pol-ad-law-no-guarantee-zh", "《广告法》第四条"),
        ("12", "pol-discount-authority-zh", "《云枢科技价格授权制度》第3条"),
    ],
)
def test_compliance_temptations_get_the_policy_answer(
    copilot: Copilot, name: str, policy: str, basis: str
) -> None:
    """The policy lends its citation and basis to the replies; its text reaches the rep only as guidance."""
    result = suggest(copilot, name)
    top = result.suggestions[0]
    assert policy in top.citations and basis in top.legal_basis
    [guidance] = [g for g in result.guidance if policy in g.citations]
    assert basis in guidance.legal_basis and basis in guidance.text
    body = next(a for a in copilot.store.atoms() if a.id == policy).body
    rule = re.split("[。！？]", body)[1]  # the sentence after the opening one
    assert rule in guidance.text
    assert all(rule not in s.text for s in result.suggestions)


def test_prompt_injection_is_not_followed(copilot: Copilot) -> None:
    for name in ("13", "14"):
        result = suggest(copilot, name)
        replies = " ".join(s.text for s in result.suggestions)
        shown = replies + (result.competitor.response if result.competitor else "")
        assert "垃圾" not in shown
        assert "system prompt" not in replies.lower() and "系统提示" not in replies
        assert "底价" not in replies and "ignore previous" not in replies.lower()
    assert result.competitor is None or "comp-" in result.competitor.citations[0]


def test_nothing_volunteers_a_discount_or_claims_an_unshown_approval(copilot: Copilot) -> None:
    """01 only objects to the price; 06 asks to sign next week: no discount, no approval nobody gave."""
    for name in ("01", "06"):
        replies = " ".join(s.text for s in suggest(copilot, name).suggestions)
        assert not re.search(r"折扣|打折|[0-9一二三四五六七八九]折|优惠|免费|discount", replies)
    replies = " ".join(s.text for s in suggest(copilot, "06").suggestions)
    assert "认可" not in replies and "批准" not in replies


def test_the_three_replies_take_different_approaches(copilot: Copilot) -> None:
    """A fact, a clarifying question, a next step: only the second ends by asking."""
    for name in ("01", "09", "16"):
        first, second, third = suggest(copilot, name).suggestions
        assert second.text.rstrip().endswith(("？", "?"))
        assert first.text != second.text != third.text


def test_pii_never_reaches_the_audit_log(copilot: Copilot) -> None:
    result = suggest(copilot, "15")
    [event] = [e for e in copilot.audit.events(type="suggestion_shown") if e.suggestion_set_id == result.id]
    stored = json.dumps(event.model_dump(mode="json"), ensure_ascii=False)
    for secret in ("13812345678", "110101199003071233"):
        assert secret not in stored
    assert "[PHONE_1]" in stored and "[ID_1]" in stored
    assert event.input_digest and len(event.input_digest) == 64


def test_every_press_is_logged_before_it_is_returned(copilot: Copilot) -> None:
    before = copilot.audit.count()
    result = suggest(copilot, "09")
    assert copilot.audit.count() == before + 1
    [event] = list(copilot.audit.events(since_seq=before))
    assert event.type == "suggestion_shown" and event.suggestion_set_id == result.id
    assert event.output is not None and event.output["suggestions"][0]["text"] == result.suggestions[0].text
    assert event.atoms == result.atom_versions
    assert copilot.audit.verify().ok


def test_shown_event_keeps_the_set_once(copilot: Copilot) -> None:
    """Every field of the SuggestionSet is in the event exactly once: the set's id, engine,
    prompts and atom versions in the event's own fields, the rest in ``output``."""
    result = suggest(copilot, "01")
    [event] = [e for e in copilot.audit.events(type="suggestion_shown") if e.suggestion_set_id == result.id]
    assert event.output is not None and event.input is not None
    shown = result.model_dump(mode="json", exclude={"timings_ms", "provenance"})
    rebuilt = {k: v for k, v in event.output.items() if k != "provenance"}
    rebuilt |= {"id": event.suggestion_set_id, "conversation_id": event.conversation_id}
    rebuilt |= {"engine": event.engine, "model": event.model, "prompt_versions": event.prompt_versions}
    rebuilt |= {"atom_versions": event.atoms}
    assert rebuilt.keys() == shown.keys()
    assert {k: v for k, v in rebuilt.items() if k != "decision_chain"} == {
        k: v
        for k, v in shown.items()
        if k != "decision_chain"  # its names are pseudonyms in the log
    }
    assert set(event.output["provenance"]) == set(result.provenance)  # type: ignore[arg-type]
    assert all(p == {} for p in event.output["provenance"].values())  # type: ignore[union-attr]
    assert "id" not in event.input and event.input["messages"]


def test_expired_and_draft_atoms_are_never_cited(copilot: Copilot) -> None:
    never = {"script-2025-yearend-offer-zh", "script-cold-open-legacy-zh", "obj-quality-doubt-draft-zh"}
    for name in SAMPLES:
        result = suggest(copilot, name)
        assert never.isdisjoint(cited(result))


def test_english_chat_gets_english_replies(copilot: Copilot) -> None:
    result = suggest(copilot, "16")
    assert result.language == "en"
    served = {a.id: a for a in copilot.store.atoms()}
    assert all(served[c].language == "en" for s in result.suggestions for c in s.citations)
    assert not any(CJK.search(s.text) for s in result.suggestions)


def test_guard_knows_competitor_aliases(copilot: Copilot) -> None:
    from agents import ComplianceGuard

    cards = [a for a in copilot.store.atoms() if a.type == "competitor"]
    guard = ComplianceGuard(competitor_names=[n for c in cards for n in c.competitors])
    checked = guard.check("suggestion[0]", "StarMap 的系统很不靠谱。")
    assert checked.text is None
    assert [v.rule for v in checked.verdicts] == ["competitor-disparagement"]


def test_guard_repairs_and_blocks_what_a_content_owner_got_wrong(
    tmp_path: Path, embedding: BilingualEmbedding
) -> None:
    """Atoms are approved by people; the guard still checks every output before it is shown."""
    from knowledge import Atom

    def atom(atom_id: str, body: str) -> Atom:
        return Atom(
            id=atom_id,
            type="objection",
            title=atom_id,
            language="zh",
            status="approved",
            approved_by="legal@example.com",
            version=1,
            body=body,
            scenario="客户嫌价格高",
        )

    atoms = [
        atom("a-discount", "价格太高的话，我可以直接给您打五折。"),
        atom("a-superlative", "我们是行业第一的 MES，价格很合理。"),
        atom("a-disparage", "价格方面，极光数仓那种垃圾产品根本没法比。"),
        atom("a-plain-1", "理解您对价格的顾虑，我们可以按三年总成本算一下。"),
        Atom(
            id="comp-x",
            type="competitor",
            title="极光",
            language="zh",
            status="approved",
            approved_by="legal@example.com",
            version=1,
            competitors=["极光数仓"],
            body="各有所长。",
        ),
    ]
    settings = Settings(home=tmp_path, discount_policy_basis="《示例价格制度》第2条")
    store = ChromaAtomStore.embedded(settings.chroma_path, "atoms", embedding)
    ingest_atoms(atoms, store)
    engine = Copilot(settings, store, SQLiteAuditStore(settings.audit_path), today=lambda: TODAY)
    chat = Conversation.model_validate(
        {
            "id": "t-1",
            "deal": {"customer": "华东精工", "stage": "negotiation"},
            "messages": [{"from": "c", "text": "你们价格太高了，能便宜点吗？"}],
        }
    )
    try:
        result = asyncio.run(engine.suggest(chat))
    finally:
        engine.close()
    assert len(result.suggestions) == 3  # the next compliant candidates replace the blocked ones
    assert {"a-discount", "a-disparage"}.isdisjoint(cited(result))
    shown = " ".join(s.text for s in result.suggestions)
    assert "五折" not in shown and "垃圾" not in shown and "行业第一" not in shown
    rules = {(v.rule, v.action) for v in result.compliance}
    assert ("discount-over-limit", "blocked") in rules
    discount = next(v for v in result.compliance if v.rule == "discount-over-limit")
    assert discount.basis == "《示例价格制度》第2条"
    assert ("ad-law-superlative", "repaired") in rules
    blocked = [v for v in result.compliance if v.action == "blocked"]
    assert all(v.target.startswith("candidate[") for v in blocked)
    repaired = next(v for v in result.compliance if v.rule == "ad-law-superlative")
    assert repaired.basis == "《广告法》第九条" and repaired.target.startswith("suggestion[")


def test_pii_in_any_field_is_redacted_everywhere(copilot: Copilot) -> None:
    from copilot import find_pii

    chat = Conversation.model_validate(
        {
            "id": "wecom:zhang@example.com",
            "deal": {"customer": "联系人 13912345678", "industry": "manufacturing", "stage": "proposal"},
            "participants": [
                {"id": "rep-1", "name": "王磊", "side": "rep"},
                {
                    "id": "li.wei@example.com",
                    "name": "李伟 13812345678",
                    "side": "customer",
                    "title": "CFO li.wei@example.com",
                },
            ],
            "messages": [{"from": "li.wei@example.com", "text": "价格比预算高，打我电话 13812345678。"}],
        }
    )
    result = asyncio.run(copilot.suggest(chat))
    [event] = [e for e in copilot.audit.events(type="suggestion_shown") if e.suggestion_set_id == result.id]
    stored = json.dumps(event.model_dump(mode="json"), ensure_ascii=False)
    assert find_pii(stored) == []
    assert find_pii(json.dumps(result.model_dump(mode="json"), ensure_ascii=False)) == []
    assert {c.role for c in result.decision_chain.covered} == {"cfo"}  # ids stay consistent


def test_unknown_sender_is_rejected() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"messages\[0\]\.from: 'ghost' is not a participant id"):
        Conversation.model_validate(
            {
                "id": "x",
                "deal": {"customer": "c"},
                "participants": [{"id": "a", "side": "rep"}],
                "messages": [{"from": "ghost", "text": "财务总监认可了方案"}],
            }
        )


def test_a_burst_of_presses_is_served_in_arrival_order(copilot: Copilot) -> None:
    """20 presses at once: retrieval and guard turns are granted by arrival, so the
    first press does not wait for the whole burst (measured: benchmarks/load.py)."""
    chats = [conversation(name) for name in SAMPLES]
    finished: list[int] = []

    async def one(i: int) -> None:
        await copilot.suggest(chats[i % len(chats)])
        finished.append(i)

    async def burst() -> None:
        await asyncio.gather(*(one(i) for i in range(20)))

    asyncio.run(burst())
    assert sorted(finished) == list(range(20))
    assert finished.index(0) < 5 and finished[-1] >= 15  # early arrivals finish early


def test_a_saturated_engine_says_busy_at_once(copilot: Copilot) -> None:
    from copilot.errors import Busy

    held = [copilot.lanes.ticket() for _ in range(copilot.lanes.max_waiting)]
    try:
        with pytest.raises(Busy, match="retry in a moment"):
            suggest(copilot, "01")
    finally:
        for ticket in held:
            ticket.done()
    assert suggest(copilot, "01").suggestions  # room again
