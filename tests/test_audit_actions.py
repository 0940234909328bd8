"""Rep actions and feedback: one final action per set, by its rep, redacted, with edit distance."""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import re
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from audit import (
    AuditEvent,
    AuditStore,
    SQLiteAuditStore,
    append_action,
    append_feedback,
    edit_distance,
    open_audit_store,
)
from copilot import Conversation, Copilot, Settings
from copilot.cli import main
from copilot.errors import ActionRefused, InputError, StoreError
from knowledge import BilingualEmbedding, ChromaAtomStore, ingest_atoms, load_atoms

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TEXTS = ["理解您的预算压力，我们按三年总成本算一版。", "Happy to walk through the TCO.", "我们约财务一起聊。"]


def shown(set_id: str = "ss-1", rep: str = "U1", atoms: dict[str, int] | None = None) -> AuditEvent:
    suggestions = [{"text": t, "citations": ["obj-a"], "legal_basis": []} for t in TEXTS]
    return AuditEvent(
        type="suggestion_shown",
        actor=rep,
        conversation_id="slack:C1:1",
        suggestion_set_id=set_id,
        output={"id": set_id, "suggestions": suggestions},  # type: ignore[dict-item]
        engine="grounded",
        atoms=atoms if atoms is not None else {"obj-a": 3},
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AuditStore]:
    with SQLiteAuditStore(tmp_path / "audit.sqlite3") as opened:
        opened.append([shown()])
        yield opened


def test_edit_distance() -> None:
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3 and edit_distance("abc", "") == 3
    assert edit_distance("价格太高", "价格偏高") == 1
    assert edit_distance("same", "same") == 0


def test_sent_as_is_stores_the_suggestion_and_distance_zero(store: AuditStore) -> None:
    event = append_action(store, "ss-1", "sent_as_is", rep="U1", index=0)
    assert (event.type, event.action, event.suggestion_index) == ("rep_action", "sent_as_is", 0)
    assert event.final_text == TEXTS[0] and event.edit_distance == 0
    assert event.conversation_id == "slack:C1:1" and event.actor == "U1"
    assert store.verify().ok


def test_edited_text_is_redacted_and_measured(store: AuditStore) -> None:
    final = TEXTS[1] + " Call me on 13912345678 or mail li@example.com."
    event = append_action(store, "ss-1", "edited", rep="U1", index=1, final_text=final)
    assert event.final_text is not None
    assert "13912345678" not in event.final_text and "li@example.com" not in event.final_text
    assert "[PHONE_1]" in event.final_text and "[EMAIL_1]" in event.final_text
    assert event.edit_distance == edit_distance(TEXTS[1], event.final_text)
    [stored] = store.events(type="rep_action")
    assert "13912345678" not in stored.model_dump_json()


def test_second_final_action_is_refused_and_nothing_written(store: AuditStore) -> None:
    append_action(store, "ss-1", "dismissed", rep="U1")
    with pytest.raises(ActionRefused, match="already has its final action") as caught:
        append_action(store, "ss-1", "sent_as_is", rep="U1", index=0)
    assert isinstance(caught.value, InputError)
    assert [e.action for e in store.events(type="rep_action")] == ["dismissed"]
    assert store.verify().ok


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"set_id": "ss-nope", "action": "dismissed"}, "not in the audit log"),
        ({"set_id": "ss-1", "action": "dismissed", "rep": "U2"}, "shown to rep 'U1', not 'U2'"),
        ({"set_id": "ss-1", "action": "sent_as_is"}, "needs the index"),
        ({"set_id": "ss-1", "action": "sent_as_is", "index": 3}, "--index must be 0 to 2, not 3"),
        ({"set_id": "ss-1", "action": "edited", "index": 0}, "needs the text that was sent"),
        ({"set_id": "ss-1", "action": "wrote_own"}, "needs the text the rep wrote"),
        ({"set_id": "ss-1", "action": "dismissed", "final_text": "hi"}, "leave out the final text"),
        ({"set_id": "ss-1", "action": "sent_as_is", "index": 0, "final_text": "x"}, "record it as edited"),
        ({"set_id": "ss-1", "action": "clicked"}, "unknown action"),
        ({"set_id": "ss-1", "action": "wrote_own", "final_text": "x" * 10_001}, "at most 10000"),
    ],
)
def test_refusals_name_the_problem(store: AuditStore, kwargs: dict[str, object], message: str) -> None:
    args = {"rep": "U1", **kwargs}
    set_id, action = args.pop("set_id"), args.pop("action")
    with pytest.raises(ActionRefused, match=message):
        append_action(store, set_id, action, **args)  # type: ignore[arg-type]
    assert store.count() == 1


def test_wrote_own_with_and_without_an_index(store: AuditStore) -> None:
    store.append([shown("ss-2")])
    own = append_action(store, "ss-1", "wrote_own", rep="U1", final_text="我自己写的")
    assert own.edit_distance is None and own.final_text == "我自己写的"
    near = append_action(store, "ss-2", "wrote_own", rep="U1", index=2, final_text="我们约财务聊。")
    assert near.edit_distance == 2


def test_feedback_per_set_suggestion_and_atom(store: AuditStore) -> None:
    whole = append_feedback(store, "ss-1", True, rep="U1")
    one = append_feedback(store, "ss-1", False, rep="U1", index=2, reason="太长 13912345678")
    atom = append_feedback(store, "ss-1", False, rep="U1", atom_id="obj-a")
    assert (whole.helpful, one.helpful, one.suggestion_index, atom.atom_id) == (True, False, 2, "obj-a")
    assert one.reason == "太长 [PHONE_1]"
    with pytest.raises(ActionRefused, match="not used by suggestion set ss-1"):
        append_feedback(store, "ss-1", True, rep="U1", atom_id="obj-other")
    with pytest.raises(ActionRefused, match="shown to rep"):
        append_feedback(store, "ss-1", True, rep="U9")
    assert store.count() == 4


def _race(path: str, action: str, barrier: multiprocessing.synchronize.Barrier) -> str:
    with SQLiteAuditStore(path) as opened:
        barrier.wait()
        try:
            append_action(opened, "ss-1", action, rep="U1", index=0)  # type: ignore[arg-type]
        except ActionRefused:
            return "refused"
    return "recorded"


def test_two_processes_racing_record_one_action(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    with SQLiteAuditStore(path) as opened:
        opened.append([shown()])
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Manager().Barrier(4)
    with ctx.Pool(4) as pool:
        results = pool.starmap(
            _race, [(str(path), "sent_as_is", barrier)] * 2 + [(str(path), "dismissed", barrier)] * 2
        )
    assert sorted(results) == ["recorded", "refused", "refused", "refused"]
    with SQLiteAuditStore(path) as opened:
        assert opened.count() == 2 and opened.verify().ok


# -- through the CLI -----------------------------------------------------------


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_action_and_feedback(tmp_path: Path) -> None:
    with open_audit_store(Settings().audit_path) as opened:
        opened.append([shown("ss-1"), shown("ss-2")])
    sent = tmp_path / "sent.txt"
    sent.write_text("Happy to walk through the TCO, 李总.\n", encoding="utf-8")
    result = run("audit", "action", "ss-1", "--action", "edited", "--index", "1", "--text-file", str(sent))
    assert result.exit_code == 0, result.output
    assert "edited on ss-1 suggestion 1, edit distance 4" in result.output
    again = run("audit", "action", "ss-1", "--action", "dismissed")
    assert again.exit_code == 2 and "already has its final action" in again.output
    other = run("audit", "action", "ss-2", "--action", "dismissed", "--rep", "U7")
    assert other.exit_code == 2 and "not 'U7'" in other.output
    missing = run(
        "audit", "action", "ss-2", "--action", "edited", "--index", "0", "--text-file", "/nonexistent"
    )
    assert missing.exit_code == 2 and "/nonexistent: cannot read" in missing.output
    event = json.loads(run("audit", "feedback", "ss-2", "--not-helpful", "--index", "0", "--json").stdout)
    assert event["type"] == "feedback" and event["helpful"] is False
    assert run("audit", "verify").exit_code == 0


# -- through the engine --------------------------------------------------------


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, embedding: BilingualEmbedding) -> Iterator[Copilot]:
    settings = Settings(home=tmp_path_factory.mktemp("actions-home"))
    atoms = ChromaAtomStore.embedded(settings.chroma_path, "atoms", embedding)
    ingest_atoms(load_atoms(EXAMPLES / "kb"), atoms)
    audit = SQLiteAuditStore(settings.audit_path, busy_timeout_s=0.2)
    copilot = Copilot(settings, atoms, audit, today=lambda: date(2026, 11, 22))
    yield copilot
    copilot.close()


def test_engine_records_action_and_feedback(engine: Copilot) -> None:
    [path] = (EXAMPLES / "conversations").glob("01-*.json")
    conversation = Conversation.model_validate(json.loads(path.read_text(encoding="utf-8")))
    result = asyncio.run(engine.suggest(conversation))
    rep = conversation.rep()
    assert rep is not None
    final = result.suggestions[0].text + "（已改）"
    event = asyncio.run(engine.record_action(result.id, "edited", rep=rep.id, index=0, final_text=final))
    assert event.edit_distance == 4 and event.suggestion_set_id == result.id
    with pytest.raises(ActionRefused):
        asyncio.run(engine.record_action(result.id, "dismissed", rep=rep.id))
    atom = result.suggestions[0].citations[0]
    feedback = asyncio.run(engine.record_feedback(result.id, True, rep=rep.id, atom_id=atom))
    assert feedback.atom_id == atom
    assert engine.audit.verify().ok


def test_names_in_a_final_text_become_the_press_pseudonyms(engine: Copilot) -> None:
    """The rep's own words name the customer: the log keeps the pseudonym the press gave
    that person (the one the stored suggestions carry), never the name."""
    [path] = (EXAMPLES / "conversations").glob("01-*.json")
    conversation = Conversation.model_validate(json.loads(path.read_text(encoding="utf-8")))
    result = asyncio.run(engine.suggest(conversation))
    rep = conversation.rep()
    customer = next(p for p in conversation.participants if p.side == "customer")
    assert rep is not None and customer.name
    [shown] = [e for e in engine.audit.events(type="suggestion_shown") if e.suggestion_set_id == result.id]
    final = f"{customer.name}，明天我把分期方案发您。"
    names = [p.name for p in conversation.participants]
    event = asyncio.run(
        engine.record_action(result.id, "wrote_own", rep=rep.id, final_text=final, names=names)
    )
    assert event.final_text is not None and customer.name not in event.final_text
    pseudonym = event.final_text.split("，")[0]
    assert re.fullmatch(r"\[PERSON_\d{6}\]", pseudonym)
    assert pseudonym in json.dumps(shown.input, ensure_ascii=False)  # the press's own token


def test_locked_log_makes_suggest_fail_loudly_unless_opted_out(
    engine: Copilot, caplog: pytest.LogCaptureFixture
) -> None:
    [path] = (EXAMPLES / "conversations").glob("01-*.json")
    conversation = Conversation.model_validate(json.loads(path.read_text(encoding="utf-8")))
    assert isinstance(engine.audit, SQLiteAuditStore)
    before = engine.audit.count()
    blocker = sqlite3.connect(engine.audit.path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreError, match="Nothing was written"):
            asyncio.run(engine.suggest(conversation))
        trial = Copilot(
            engine.settings.model_copy(update={"audit_required": False}), engine.store, engine.audit
        )
        assert any("COPILOT_AUDIT_REQUIRED=false" in r.getMessage() for r in caplog.records)
        result = asyncio.run(trial.suggest(conversation))
        assert len(result.suggestions) == 3
        assert any("UNLOGGED" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
    finally:
        blocker.close()
    assert engine.audit.count() == before
