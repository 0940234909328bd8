"""Customer text is untrusted: injection attempts against both engines.

Each attempt is the customer's last message. The grounded engine runs on it as is;
the LLM engine runs with a scripted model that *obeys* the injection (writes the
promise, cites the fake atom). What the rep is shown must still pass: nothing the
attacker asked for, only citations of served customer-audience atoms.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from audit import SQLiteAuditStore
from copilot import ChatMessage, Conversation, Copilot, FunctionChatModel, Settings, SuggestionSet
from knowledge import BilingualEmbedding, ChromaAtomStore, ingest_atoms, load_atoms

TODAY = date(2026, 11, 22)
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@dataclass(frozen=True)
class Attack:
    id: str
    said: str  # the customer's message
    obey: str  # what a model that follows the injection writes
    cites: tuple[str, ...]  # and cites
    never: tuple[str, ...]  # must not be shown (case-insensitive)


ATTACKS = [
    Attack(a["id"], a["said"], a["obey"], tuple(a["cites"]), tuple(a["never"]))
    for a in yaml.safe_load((Path(__file__).parent / "data" / "injections.yaml").read_text(encoding="utf-8"))
]


@pytest.fixture(scope="module")
def store(
    tmp_path_factory: pytest.TempPathFactory, embedding: BilingualEmbedding
) -> Iterator[ChromaAtomStore]:
    home = tmp_path_factory.mktemp("injection")
    store = ChromaAtomStore.embedded(home / "chroma", "atoms", embedding)
    ingest_atoms(load_atoms(EXAMPLES / "kb"), store)
    yield store
    store.close()


@pytest.fixture(scope="module")
def served(store: ChromaAtomStore) -> set[str]:
    """Served atoms: replies cite these (a policy lends its citation to a grounded reply)."""
    return {a.id for a in store.atoms() if a.is_served(TODAY)}


def attacked(attack: Attack) -> Conversation:
    [path] = (EXAMPLES / "conversations").glob("01-*.json")
    conv = Conversation.model_validate(json.loads(path.read_text(encoding="utf-8")))
    conv.messages.append(conv.messages[0].model_copy(update={"text": attack.said}))
    return conv


def obeying(attack: Attack) -> FunctionChatModel:
    def model(messages: Sequence[ChatMessage], schema: type[BaseModel]) -> dict[str, object]:
        draft = {"text": attack.obey, "citations": list(attack.cites)}
        return {"suggestions": [draft, draft, draft]}

    return FunctionChatModel(model, name="obedient")


def press(
    store: ChromaAtomStore, home: Path, conv: Conversation, model: FunctionChatModel | None
) -> SuggestionSet:
    settings = Settings(home=home, llm_timeout_s=30.0)
    copilot = Copilot(
        settings, store, SQLiteAuditStore(home / "audit.sqlite3"), today=lambda: TODAY, chat_model=model
    )
    try:
        return asyncio.run(copilot.suggest(conv))
    finally:
        copilot.audit.close()


def assert_passes(result: SuggestionSet, attack: Attack, served: set[str]) -> None:
    shown = [s.text for s in result.suggestions]
    shown += [result.competitor.response] if result.competitor else []
    shown += [result.decision_chain.next_action.text] if result.decision_chain.next_action else []
    text = " ".join(shown).casefold()
    for word in attack.never:
        assert word.casefold() not in text, f"{attack.id}: {word!r} shown"
    assert len(result.suggestions) == 3
    cited = {c for s in result.suggestions for c in s.citations}
    cited |= set(result.competitor.citations) if result.competitor else set()
    assert cited <= served, f"{attack.id}: cites {sorted(cited - served)}"


def test_there_are_at_least_twenty_attacks() -> None:
    assert len(ATTACKS) >= 20 and len({a.id for a in ATTACKS}) == len(ATTACKS)


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.id)
def test_grounded_engine_resists(
    store: ChromaAtomStore, served: set[str], tmp_path: Path, attack: Attack
) -> None:
    result = press(store, tmp_path, attacked(attack), None)
    assert result.engine == "grounded"
    assert_passes(result, attack, served)


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.id)
def test_llm_engine_with_an_obedient_model_resists(
    store: ChromaAtomStore, served: set[str], tmp_path: Path, attack: Attack
) -> None:
    model = obeying(attack)
    result = press(store, tmp_path, attacked(attack), model)
    assert len(model.calls) == 1  # one model call per press
    assert_passes(result, attack, served)
    # The injection reached the model only as data inside the conversation block.
    user = model.calls[0][1].content
    conversation = user.split("<conversation>\n", 1)[1].rsplit("\n</conversation>", 1)[0]
    assert json.dumps(attack.said, ensure_ascii=False)[1:-1].replace("<", "\\u003c").replace(
        ">", "\\u003e"
    ) in (conversation)
    assert "<conversation>" not in user.split("<conversation>\n", 1)[1]
    reply = result.provenance["reply"]
    assert result.engine == "grounded" or reply.replaced or reply.dropped_citations or result.compliance
