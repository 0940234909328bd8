"""/wecom/callback through real HTTP: the app served by uvicorn on 127.0.0.1, a fake WeCom API,
callbacks encrypted from Tencent's published algorithm (tests/wecom_fakes.py)."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_server import serve_in_thread
from wecom_fakes import (
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    SECRET,
    TOKEN,
    FakeWeCom,
    card_event_xml,
    fake_wecom_server,
    signed_post,
    tencent_encrypt,
    tencent_signature,
    text_xml,
)

from audit import SQLiteAuditStore
from copilot import Copilot, Settings
from copilot._app import create_app
from knowledge import BilingualEmbedding, ChromaAtomStore, ingest_atoms, load_atoms

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
QUESTION = "客户李总说：方案我们技术认可，但极光数仓的报价比你们低两成，你们怎么说？"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWeCom]:
    with fake_wecom_server() as server:
        yield server


@pytest.fixture(scope="module")
def engine(
    tmp_path_factory: pytest.TempPathFactory, embedding: BilingualEmbedding, fake: FakeWeCom
) -> Iterator[Copilot]:
    home = tmp_path_factory.mktemp("wecom-home")
    settings = Settings(
        home=home,
        wecom_corp_id=CORP_ID,
        wecom_agent_id=AGENT_ID,
        wecom_secret=SECRET,
        wecom_token=TOKEN,
        wecom_aes_key=AES_KEY,
        wecom_api_url=fake.url,
    )
    store = ChromaAtomStore.embedded(settings.chroma_path, "atoms", embedding)
    ingest_atoms(load_atoms(EXAMPLES / "kb"), store)
    copilot = Copilot(settings, store, SQLiteAuditStore(settings.audit_path))
    yield copilot
    copilot.close()


@pytest.fixture(scope="module")
def url(engine: Copilot) -> Iterator[str]:
    with serve_in_thread(create_app(engine.settings, copilot=engine)) as base:
        yield base


def post(url: str, query: dict[str, str], body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(f"{url}/wecom/callback?{urllib.parse.urlencode(query)}", content=body, headers=headers)


def test_url_verification(url: str) -> None:
    echo = tencent_encrypt(b"8827236712")
    stamp = str(int(time.time()))
    query = {
        "msg_signature": tencent_signature(TOKEN, stamp, "x1", echo),
        "timestamp": stamp,
        "nonce": "x1",
        "echostr": echo,
    }
    answer = httpx.get(f"{url}/wecom/callback", params=query)
    assert answer.status_code == 200 and answer.text == "8827236712"


def cards(fake: FakeWeCom, user: str) -> list[dict[str, Any]]:
    return [b["template_card"] for b in fake.sends(user) if b["msgtype"] == "template_card"]


def test_a_pasted_message_then_suggest_is_answered_once_despite_retries(url: str, fake: FakeWeCom) -> None:
    inner = text_xml("rep.wang", QUESTION, "7312345678901234567")
    first = signed_post(inner)
    # The delivery, a byte-for-byte replay of it, and WeCom's three retries (freshly signed).
    for query, body in [first, first, *(signed_post(inner) for _ in range(3))]:
        started = time.monotonic()
        answer = post(url, query, body)
        assert answer.status_code == 200 and time.monotonic() - started < 5
    fake.wait_for(lambda f: len(f.sends("rep.wang")) >= 1)
    [ask] = cards(fake, "rep.wang")
    assert [b["text"] for b in ask["button_list"]] == ["建议话术"]
    tap(url, "rep.wang", ask, "suggest")
    fake.wait_for(lambda f: len(f.sends("rep.wang")) >= 2)
    answer_card = cards(fake, "rep.wang")[1]
    assert [b["text"] for b in answer_card["button_list"]] == ["采用", "修改", "忽略"]
    assert (
        answer_card["quote_area"]["title"] == "竞品 极光数仓"
        and len(answer_card["quote_area"]["quote_text"]) > 20
    )
    assert answer_card["sub_title_text"].startswith("1. ")
    query, body = signed_post(text_xml("rep.wang", "下一句", "7312345678901234999"))
    assert post(url, query, body).status_code == 200
    fake.wait_for(lambda f: len(f.sends("rep.wang")) >= 3)
    assert len(fake.sends("rep.wang")) == 3  # each retried MsgId and event was processed once


def test_deal_command_answers_with_what_is_set(url: str, fake: FakeWeCom) -> None:
    query, body = signed_post(
        text_xml("rep.zhao", "deal 客户=华东精工 行业=制造业 阶段=方案 产品=MES Cloud", "9001")
    )
    assert post(url, query, body).status_code == 200
    fake.wait_for(lambda f: len(f.sends("rep.zhao")) == 1)
    reply = fake.sends("rep.zhao")[0]["text"]["content"]
    assert "客户 华东精工" in reply and "manufacturing" in reply and "方案（proposal）" in reply
    query, body = signed_post(text_xml("rep.zhao", "deal 阶段=月球", "9002"))
    post(url, query, body)
    fake.wait_for(lambda f: len(f.sends("rep.zhao")) == 2)
    assert "阶段 '月球' is not a stage" in fake.sends("rep.zhao")[1]["text"]["content"]


BOMB = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY l2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    "<xml><Encrypt>&l2;</Encrypt></xml>"
)


def bad_requests() -> list[tuple[str, dict[str, str], bytes]]:
    good_inner = text_xml("rep.bad", "不该被处理", "666")
    query, body = signed_post(good_inner)
    stale_q, stale_b = signed_post(good_inner, timestamp=int(time.time()) - 600)
    corp_q, corp_b = signed_post(good_inner, corp_id="wwOTHERcorp")
    bomb_inner_q, bomb_inner_b = signed_post(BOMB.replace("Encrypt", "Content").encode())
    return [
        ("bad signature", {**query, "msg_signature": "0" * 40}, body),
        ("wrong token", signed_post(good_inner, token="other")[0], body),
        ("stale", stale_q, stale_b),
        ("wrong corp id", corp_q, corp_b),
        ("malformed xml", query, body[:-10]),
        ("entity expansion", query, BOMB.encode()),
        ("entities inside", bomb_inner_q, bomb_inner_b),
        ("bad base64", query, b"<xml><Encrypt><![CDATA[%%%not-base64%%%]]></Encrypt></xml>"),
        ("oversized", query, b"<xml><Encrypt>" + b"A" * 200_000 + b"</Encrypt></xml>"),
        ("non-utf8", query, b"<xml><Encrypt>\xff\xfe\xfd</Encrypt></xml>"),
        ("no params", {}, body),
        ("empty", query, b""),
    ]


def test_bad_requests_are_4xx_and_nothing_is_processed(url: str, fake: FakeWeCom) -> None:
    before = len(fake.calls)
    for name, query, body in bad_requests():
        answer = post(url, query, body)
        assert 400 <= answer.status_code < 500, (name, answer.status_code)
    # A valid message afterwards is processed: everything before it was refused, not queued.
    query, body = signed_post(text_xml("rep.after", "价格太高了", "667"))
    assert post(url, query, body).status_code == 200
    fake.wait_for(lambda f: len(f.sends("rep.after")) >= 1)
    assert fake.sends("rep.bad") == []
    assert all(c["body"].get("touser") != "rep.bad" for c in fake.calls[before:])


def test_bad_verification_requests_are_refused(url: str) -> None:
    stamp = str(int(time.time()))
    other = tencent_encrypt(b"12345", corp_id="wwOTHERcorp")
    cases = [
        {"msg_signature": "0" * 40, "timestamp": stamp, "nonce": "n", "echostr": tencent_encrypt(b"1")},
        {
            "msg_signature": tencent_signature(TOKEN, stamp, "n", other),
            "timestamp": stamp,
            "nonce": "n",
            "echostr": other,
        },
        {
            "msg_signature": tencent_signature(TOKEN, stamp, "n", "@@"),
            "timestamp": stamp,
            "nonce": "n",
            "echostr": "@@",
        },
    ]
    for query in cases:
        assert 400 <= httpx.get(f"{url}/wecom/callback", params=query).status_code < 500


def test_unknown_card_keys_are_ignored(url: str, fake: FakeWeCom) -> None:
    query, body = signed_post(card_event_xml("rep.sun", "launch:rockets", "t-1"))
    assert post(url, query, body).status_code == 200
    query, body = signed_post(text_xml("rep.sun", "help", "8001"))
    post(url, query, body)
    fake.wait_for(lambda f: len(f.sends("rep.sun")) == 1)
    assert "deal 客户=" in fake.sends("rep.sun")[0]["text"]["content"]


def press(url: str, fake: FakeWeCom, user: str, text: str, msg_id: str) -> dict[str, Any]:
    """The rep pastes ``text`` and taps 建议话术; returns the answer card."""
    query, body = signed_post(text_xml(user, text, msg_id))
    assert post(url, query, body).status_code == 200
    fake.wait_for(lambda f: any(c["task_id"] == f"ask-{msg_id}" for c in cards(f, user)))
    ask = next(c for c in cards(fake, user) if c["task_id"] == f"ask-{msg_id}")
    before = len(cards(fake, user))
    tap(url, user, ask, "suggest")
    fake.wait_for(lambda f: len(cards(f, user)) > before)
    return cards(fake, user)[-1]


def tap(url: str, user: str, card: dict[str, Any], verb: str, pick: str = "0") -> None:
    key = next(b["key"] for b in card["button_list"] if b["key"].split(":")[0] == verb)
    inner = card_event_xml(user, key, card["task_id"], pick=pick, created=int(time.time()))
    for _ in range(3):  # WeCom retries the same event
        query, body = signed_post(inner)
        assert post(url, query, body).status_code == 200


def actions(engine: Copilot, set_id: str) -> list[Any]:
    return list(engine.audit.events(type="rep_action", suggestion_set_id=set_id))


def test_adopt_records_one_action_and_greys_the_card(url: str, fake: FakeWeCom, engine: Copilot) -> None:
    card = press(url, fake, "rep.qian", "价格比预算高不少", "5001")
    tap(url, "rep.qian", card, "adopt", pick="1")
    fake.wait_for(lambda f: any(c["body"].get("button", {}).get("replace_name") == "已采用" for c in f.calls))
    [event] = actions(engine, card["task_id"])
    assert event.actor == "rep.qian" and event.action == "sent_as_is" and event.suggestion_index == 1
    update = next(
        c["body"] for c in fake.calls if c["body"].get("button", {}).get("replace_name") == "已采用"
    )
    assert update == {
        "userids": ["rep.qian"],
        "agentid": AGENT_ID,
        "response_code": "rc-42",
        "button": {"replace_name": "已采用"},
    }
    # A later tap on the same card (another button) is refused with a clear message, not recorded twice.
    tap(url, "rep.qian", card, "ignore")
    fake.wait_for(
        lambda f: any("未能处理" in b.get("text", {}).get("content", "") for b in f.sends("rep.qian"))
    )
    assert len(actions(engine, card["task_id"])) == 1


def test_edit_asks_for_the_edited_text_and_records_it(url: str, fake: FakeWeCom, engine: Copilot) -> None:
    card = press(url, fake, "rep.zhou", "你们和极光数仓比有什么优势？", "5101")
    tap(url, "rep.zhou", card, "edit", pick="0")
    fake.wait_for(
        lambda f: any("修改后的话术" in b.get("text", {}).get("content", "") for b in f.sends("rep.zhou"))
    )
    query, body = signed_post(text_xml("rep.zhou", "李总您好，我们按三年总成本给您算一笔账。", "5102"))
    assert post(url, query, body).status_code == 200
    fake.wait_for(
        lambda f: any(
            "已记录你的修改版本" in b.get("text", {}).get("content", "") for b in f.sends("rep.zhou")
        )
    )
    [event] = actions(engine, card["task_id"])
    assert event.action == "edited" and event.suggestion_index == 0
    assert "三年总成本" in (event.final_text or "")


def test_ignore_records_dismissed(url: str, fake: FakeWeCom, engine: Copilot) -> None:
    card = press(url, fake, "rep.wu", "我们再考虑一下", "5201")
    tap(url, "rep.wu", card, "ignore")
    fake.wait_for(
        lambda f: any(
            c["body"].get("button", {}).get("replace_name") == "已忽略" and c["body"]["userids"] == ["rep.wu"]
            for c in f.calls
        )
    )
    [event] = actions(engine, card["task_id"])
    assert event.action == "dismissed"
