"""No raw PII at rest: the formats beyond PRC numbers, people's names as keyed
pseudonyms (real names for the rep), the actor's own token, and the golden corpus."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import stat
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from audit import SQLiteAuditStore
from copilot import Conversation, Copilot, Redactor, Settings, find_pii
from knowledge import BilingualEmbedding, ChromaAtomStore, ingest_atoms, load_atoms

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 11, 22)

# The raw values an operator's check searches COPILOT_HOME for (../shared/acceptance/pii-at-rest).
FORMATS = [
    ("备用 139.2222.3333", "phone", "139.2222.3333"),
    ("也可以打 1396 666 7777", "phone", "1396 666 7777"),
    ("座机 010-62345678。", "landline", "010-62345678"),
    ("Call me at +1 415 555 0100 now", "intl_phone", "+1 415 555 0100"),
    ("or (415) 555-0100;", "intl_phone", "(415) 555-0100"),
    ("my SSN is 123-45-6789,", "ssn", "123-45-6789"),
    ("passport E12345678.", "passport", "E12345678"),
    ("我的微信号 wxid_abc123xyz，", "wechat", "wxid_abc123xyz"),
    ("另一个 张三@例子.中国。", "email", "张三@例子.中国"),
    ("地址 上海市浦东新区世纪大道100号 8楼。", "address", "上海市浦东新区世纪大道100号 8楼"),
    ("Ship it to 221B Baker Street, London NW1 6XE.", "address", "221B Baker Street, London NW1 6XE"),
    ("联系人 张伟，明天到", "person", "张伟"),
    ("my name is John Smith.", "person", "John Smith"),
]


@pytest.mark.parametrize(("text", "kind", "value"), FORMATS)
def test_each_format_is_found_and_redacted(text: str, kind: str, value: str) -> None:
    assert [(m.kind, m.value) for m in find_pii(text)] == [(kind, value)]
    assert value not in Redactor().redact(text)


def test_ssn_and_landline_validation_leaves_lookalikes() -> None:
    for text in ["000-12-3456", "666-12-3456", "123-00-4567", "123-45-0000", "编号 010-2026", "比分 3-2-1"]:
        assert find_pii(text) == [], text


def test_participant_names_become_stable_keyed_pseudonyms() -> None:
    key = b"k" * 32
    first = Redactor(names=["李建国", "Alice Chen"], key=key, scope="conv-1")
    out = first.redact("李建国说 Alice 和 alice chen 都同意；李建国 再确认")
    assert "李建国" not in out and "Alice" not in out and "alice" not in out
    tokens = re.findall(r"\[PERSON_\d{6}\]", out)
    assert len(tokens) == 4 and len(set(tokens)) == 2  # Alice and Alice Chen are one person
    again = Redactor(names=["李建国"], key=key, scope="conv-1").redact("李建国")
    assert again == tokens[0]  # same key and conversation: same token
    assert Redactor(names=["李建国"], key=key, scope="conv-2").redact("李建国") != again
    assert Redactor(names=["李建国"], key=b"x" * 32, scope="conv-1").redact("李建国") != again
    assert first.restore(out) == "李建国说 Alice Chen 和 Alice Chen 都同意；李建国 再确认"


def test_a_phone_written_into_a_name_is_not_restored_for_the_rep() -> None:
    redactor = Redactor(names=["李伟 13812345678"])
    out = redactor.redact("李伟 13812345678 说好")
    assert "13812345678" not in redactor.restore(out) and "李伟" in redactor.restore(out)


def _load_benchmark() -> Any:
    spec = importlib.util.spec_from_file_location(
        "redaction_corpus", ROOT / "benchmarks" / "redaction_corpus.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_golden_corpus_recall_and_false_positives() -> None:
    result = _load_benchmark().score()
    assert result["positives"] >= 200 and result["negatives"] >= 100
    assert result["languages"]["zh"] >= 100 and result["languages"]["en"] >= 100
    for kind, row in result["per_kind"].items():
        assert row["positives"] >= 5, kind
        assert row["recall"] >= 0.9, (kind, result["misses"])
        assert row["false_positive_rate"] <= 0.02, (kind, result["false_positives"])
    assert result["false_positive_rate"] <= 0.05


# --- through the engine: what is stored vs what the rep sees --------------------------


@pytest.fixture(scope="module")
def copilot(tmp_path_factory: pytest.TempPathFactory, embedding: BilingualEmbedding) -> Iterator[Copilot]:
    settings = Settings(home=tmp_path_factory.mktemp("pii-home"))
    store = ChromaAtomStore.embedded(settings.chroma_path, "atoms", embedding)
    ingest_atoms(load_atoms(ROOT / "examples" / "kb"), store)
    engine = Copilot(settings, store, SQLiteAuditStore(settings.audit_path), today=lambda: TODAY)
    yield engine
    engine.close()


CHAT = {
    "id": "cli:pii-names",
    "deal": {
        "customer": "华东精工",
        "industry": "manufacturing",
        "stage": "proposal",
        "product": "MES Cloud",
    },
    "participants": [
        {"id": "rep1", "name": "王磊", "side": "rep"},
        {"id": "cust1", "name": "李建国", "side": "customer", "title": "CTO"},
    ],
    "messages": [
        {
            "from": "cust1",
            "text": "王磊你好，方案我们技术这边认可了，但价格比预算高。联系人张伟，微信号 wxid_abc123xyz。",
        },
        {
            "from": "cust1",
            "text": "Call +1 415 555 0100; passport E12345678; 地址 上海市浦东新区世纪大道100号。",
        },
    ],
}


def _stored(copilot: Copilot, set_id: str) -> str:
    [event] = [e for e in copilot.audit.events(type="suggestion_shown") if e.suggestion_set_id == set_id]
    return json.dumps(event.model_dump(mode="json"), ensure_ascii=False)


def test_names_are_pseudonyms_at_rest_and_real_for_the_rep(copilot: Copilot) -> None:
    chat = Conversation.model_validate(CHAT)
    result = asyncio.run(copilot.suggest(chat))
    stored = _stored(copilot, result.id)
    for raw in ("王磊", "李建国", "张伟", "wxid_abc123xyz", "415 555 0100", "E12345678", "世纪大道100号"):
        assert raw not in stored, raw
    tokens = set(re.findall(r"\[PERSON_\d{6}\]", stored))
    assert len(tokens) >= 2
    cto = next(c for c in result.decision_chain.covered if c.role == "cto")
    assert cto.who == "李建国"  # the rep's own screen keeps the name
    shown = json.dumps(result.model_dump(mode="json"), ensure_ascii=False)
    assert not re.search(r"\[PERSON_\d{6}\]", shown)
    second = asyncio.run(copilot.suggest(chat))  # the same person, the same token, press after press
    assert tokens == set(re.findall(r"\[PERSON_\d{6}\]", _stored(copilot, second.id)))
    state = json.dumps(
        copilot.redact(chat).model_dump(mode="json"), ensure_ascii=False
    )  # what connectors keep
    assert "李建国" not in state and set(re.findall(r"\[PERSON_\d{6}\]", state)) <= tokens


@pytest.mark.parametrize(
    ("actor", "plain"), [("wanglei@corp.example.com", False), ("王磊", False), ("rep1", True)]
)
def test_actor_gets_its_own_token_kind(copilot: Copilot, actor: str, plain: bool) -> None:
    chat = Conversation.model_validate(
        CHAT | {"messages": [{"from": "cust1", "text": "邮箱 a@b.cn，价格太高"}]}
    )
    result = asyncio.run(copilot.suggest(chat, actor=actor))
    [event] = [e for e in copilot.audit.events(type="suggestion_shown") if e.suggestion_set_id == result.id]
    if plain:
        assert event.actor == actor
    else:
        assert re.fullmatch(r"\[ACTOR_\d{6}\]", event.actor), event.actor  # never [EMAIL_1] of the chat
    assert actor not in _stored(copilot, result.id) or plain


def test_pseudonym_key_file_is_private(copilot: Copilot) -> None:
    key_file = copilot.settings.home / "pseudonym.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_a_short_pseudonym_key_is_refused_without_echoing_it(tmp_path: Path) -> None:
    from copilot._pseudonym import pseudonym_key
    from copilot.errors import ConfigError

    with pytest.raises(ConfigError, match="COPILOT_PSEUDONYM_KEY") as caught:
        pseudonym_key(Settings(home=tmp_path, pseudonym_key="hunter2"))
    assert "hunter2" not in str(caught.value)
    assert pseudonym_key(Settings(home=tmp_path, pseudonym_key="k" * 16)) == b"k" * 16
