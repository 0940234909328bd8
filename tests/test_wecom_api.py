"""The WeCom API client against a fake server on 127.0.0.1: token cache and refresh, sends, limits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
from wecom_fakes import AGENT_ID, CORP_ID, SECRET, FakeWeCom, fake_wecom_server

from connectors.wecom import WeComClient, split_text
from copilot.errors import ConnectorError


@pytest.fixture
def fake() -> Iterator[FakeWeCom]:
    with fake_wecom_server() as server:
        yield server


def client(fake: FakeWeCom, secret: str = SECRET) -> WeComClient:
    return WeComClient(fake.url, CORP_ID, secret, AGENT_ID)


def test_token_is_fetched_once_and_reused(fake: FakeWeCom, caplog: pytest.LogCaptureFixture) -> None:
    async def run() -> None:
        async with client(fake) as api:
            await api.send_text("rep.wang", "你好")
            await api.send_text("rep.wang", "再见")

    with caplog.at_level(logging.INFO, logger="copilot.wecom.api"):
        asyncio.run(run())
    assert [c["path"] for c in fake.calls] == [
        "/cgi-bin/gettoken",
        "/cgi-bin/message/send",
        "/cgi-bin/message/send",
    ]
    assert fake.sends("rep.wang")[0] == {
        "touser": "rep.wang",
        "msgtype": "text",
        "agentid": AGENT_ID,
        "text": {"content": "你好"},
    }
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3 and all(" ms" in line for line in lines)
    assert not any("tok-" in line or SECRET in line for line in lines)  # never the token or secret


def test_an_expired_token_is_refreshed_once_and_the_call_retried(fake: FakeWeCom) -> None:
    async def run() -> None:
        async with client(fake) as api:
            await api.send_text("rep.wang", "one")
            fake.expire_next_send = True
            await api.send_text("rep.wang", "two")

    asyncio.run(run())
    assert fake.tokens_issued == 2
    assert [b["text"]["content"] for b in fake.sends("rep.wang")] == ["one", "two"]


def test_bad_credentials_say_which_settings_to_check(fake: FakeWeCom) -> None:
    async def run() -> None:
        async with client(fake, secret="wrong") as api:
            await api.send_text("rep.wang", "x")

    with pytest.raises(ConnectorError, match="COPILOT_WECOM_SECRET"):
        asyncio.run(run())


def test_unreachable_api_is_a_connector_error() -> None:
    async def run() -> None:
        async with WeComClient("http://127.0.0.1:9/cgi-bin/", CORP_ID, SECRET, AGENT_ID, timeout_s=1) as api:
            await api.token()

    with pytest.raises(ConnectorError, match="COPILOT_WECOM_API_URL"):
        asyncio.run(run())


def test_long_text_is_split_within_2048_bytes(fake: FakeWeCom) -> None:
    text = "\n".join(f"{i}. " + "合规话术" * 60 for i in range(12))

    async def run() -> None:
        async with client(fake) as api:
            await api.send_text("rep.wang", text)

    asyncio.run(run())
    pieces = [b["text"]["content"] for b in fake.sends("rep.wang")]
    assert len(pieces) > 1 and all(len(p.encode()) <= 2048 for p in pieces)
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")


def test_split_text_never_cuts_a_character_and_handles_one_huge_line() -> None:
    pieces = split_text("测" * 3000, 2048)
    assert all(len(p.encode()) <= 2048 for p in pieces) and "".join(pieces) == "测" * 3000
    assert split_text("short") == ["short"]
    assert split_text("") == []


def test_thirty_messages_per_minute_per_member(fake: FakeWeCom) -> None:
    now = [1000.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:  # the clock moves instead of the test waiting
        slept.append(seconds)
        now[0] += seconds

    async def run() -> None:
        async with WeComClient(
            fake.url, CORP_ID, SECRET, AGENT_ID, clock=lambda: now[0], sleep=fake_sleep
        ) as api:
            for i in range(31):
                await api.send_text("rep.busy", f"m{i}")
            await api.send_text("rep.other", "not limited by rep.busy")

    asyncio.run(run())
    assert slept == [60.0]
    assert len(fake.sends("rep.busy")) == 31 and len(fake.sends("rep.other")) == 1


def test_sending_without_an_agent_id_says_which_setting(fake: FakeWeCom) -> None:
    async def run() -> None:
        async with WeComClient(fake.url, CORP_ID, SECRET, None) as api:
            await api.send_text("rep.wang", "x")

    with pytest.raises(ConnectorError, match="COPILOT_WECOM_AGENT_ID"):
        asyncio.run(run())
