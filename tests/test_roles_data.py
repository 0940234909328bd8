"""Buying roles on labelled data written by someone who had not read our tables:
385 job titles (zh, en, mixed) and 74 mention sentences in tests/data/, plus the
synonyms content owners add in the knowledge base (a playbook's ``role_synonyms``)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from agents import AgentContext, DecisionChainAgent, role_of_title
from copilot import ROLES, Conversation, DecisionChainReport
from knowledge import Atom, Retrieval

DATA = Path(__file__).resolve().parent / "data"
TITLES: list[dict[str, Any]] = yaml.safe_load((DATA / "titles.yaml").read_text(encoding="utf-8"))
MENTIONS: list[dict[str, Any]] = yaml.safe_load((DATA / "mentions.yaml").read_text(encoding="utf-8"))
TODAY = date(2026, 11, 22)


def playbook(**extra: Any) -> Atom:
    return Atom(
        id="pb-test",
        type="playbook",
        title="Buying committee (test)",
        language="en",
        status="approved",
        approved_by="ops@example.com",
        version=1,
        required_roles={"proposal": ["business_owner", "cfo"]},
        body="A business owner and finance.",
        **extra,
    )


def chain(text: str, *, title: str = "", book: Atom | None = None) -> DecisionChainReport:
    conversation = Conversation.model_validate(
        {
            "id": "test:roles",
            "deal": {"customer": "Acme", "stage": "proposal"},
            "participants": [
                {"id": "rep", "side": "rep"},
                {"id": "c-1", "side": "customer", "title": title},
            ],
            "messages": [{"from": "c-1", "text": text}],
        }
    )
    retrieval = Retrieval(candidates=[], battlecards=[], playbooks=[book or playbook()])
    ctx = AgentContext(conversation=conversation, language="en", retrieval=retrieval, today=TODAY)
    return asyncio.run(DecisionChainAgent().run(ctx))


def test_the_sets_are_big_enough_and_use_the_vocabulary() -> None:
    assert len(TITLES) >= 300 and len(MENTIONS) >= 40
    assert {t["role"] for t in TITLES} <= {*ROLES, "none"}
    assert all(set(m["roles_covered"]) | set(m["roles_not"]) <= set(ROLES) for m in MENTIONS)


@pytest.mark.parametrize("role", [*ROLES, "none"])
def test_titles_map_to_their_role(role: str) -> None:
    """At least 95% of each role's titles (and of titles holding none) are read right."""
    mine = [t["title"] for t in TITLES if t["role"] == role]
    wrong = [title for title in mine if (role_of_title(title) or "none") != role]
    assert len(wrong) <= 0.05 * len(mine), wrong


def test_mentions_cover_exactly_their_roles() -> None:
    """A role is covered when someone says its people took part; never when they did not."""
    exact = 0
    covered_wrongly: list[str] = []
    for mention in MENTIONS:
        covered = {c.role for c in chain(mention["text"]).covered if c.evidence is not None}
        exact += covered == set(mention["roles_covered"])
        if covered & set(mention["roles_not"]):
            covered_wrongly.append(mention["text"])
    assert not covered_wrongly
    assert exact >= 0.9 * len(MENTIONS)


def test_every_role_is_found_in_the_mentions_that_name_it() -> None:
    found: Counter[str] = Counter()
    named: Counter[str] = Counter()
    for mention in MENTIONS:
        covered = {c.role for c in chain(mention["text"]).covered}
        for role in mention["roles_covered"]:
            named[role] += 1
            found[role] += role in covered
    assert all(found[role] >= 0.75 * named[role] for role in named), (found, named)


def test_mention_evidence_quotes_the_message() -> None:
    [legal] = chain("Our counsel has gone through the contract.").covered
    assert (legal.role, legal.state) == ("legal", "reviewed")
    assert legal.evidence is not None and legal.evidence.quote == "Our counsel has gone through the contract"


# --- content owners extend the vocabulary -------------------------------------------------

PHARMACY = playbook(role_synonyms={"business_owner": ["药剂科", "pharmacy"], "end_user": ["药剂师"]})


def test_synonyms_from_the_knowledge_base_map_titles() -> None:
    assert role_of_title("药剂科主任") is None  # not in the built-in vocabulary
    report = chain("你好", title="药剂科主任", book=PHARMACY)
    assert [(c.role, c.state) for c in report.covered] == [("business_owner", "involved")]
    assert report.missing_roles == ["cfo"]


def test_synonyms_from_the_knowledge_base_cover_by_mention() -> None:
    assert chain("The pharmacy has already reviewed the plan.").covered == []
    [covered] = chain("The pharmacy has already reviewed the plan.", book=PHARMACY).covered
    assert (covered.role, covered.state) == ("business_owner", "reviewed")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"role_synonyms": {"pharmacist": ["药剂师"]}}, "role_synonyms"),  # not a buying role
        ({"role_synonyms": {"end_user": [""]}}, "role_synonyms"),
        ({"audience": "customer"}, "audience"),  # a playbook is for the rep
        ({"audience": "everyone"}, "audience"),
    ],
)
def test_bad_synonyms_and_audience_are_rejected(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError) as info:
        playbook(**fields)
    assert problem in str(info.value)


def test_only_playbooks_carry_synonyms() -> None:
    with pytest.raises(ValidationError, match="only playbook atoms may have role_synonyms"):
        Atom(
            id="s",
            type="script",
            title="s",
            language="en",
            status="draft",
            version=1,
            body="Hello.",
            role_synonyms={"cfo": ["bean counters"]},
        )


@pytest.mark.parametrize(
    ("kind", "audience"),
    [("script", "customer"), ("objection", "customer"), ("competitor", "customer"), ("product", "customer"),
     ("case", "customer"), ("policy", "internal"), ("playbook", "internal")],
)  # fmt: skip
def test_audience_defaults_by_type(kind: str, audience: str) -> None:
    extra: dict[str, Any] = {"competitors": ["X"]} if kind == "competitor" else {}
    extra |= {"required_roles": {"poc": ["cto"]}} if kind == "playbook" else {}
    atom = Atom(id="a", type=kind, title="t", language="en", status="draft", version=1, body="b", **extra)
    assert atom.audience == audience
    assert atom.for_customer == (audience == "customer")


def test_an_internal_script_is_not_for_the_customer() -> None:
    atom = Atom(
        id="a",
        type="script",
        title="t",
        language="en",
        status="draft",
        version=1,
        body="b",
        audience="internal",
    )
    assert not atom.for_customer


def test_evidence_quotes_are_plain_text() -> None:
    [legal] = chain("Our **legal team** has reviewed the contract\u202e https://x.example/a").covered
    assert legal.evidence is not None
    assert legal.evidence.quote == "Our legal team has reviewed the contract"
