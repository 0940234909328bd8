"""The chat model protocol: the OpenAI-compatible model over real HTTP, the function-backed one."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator, Sequence

import pytest
from fake_openai import FakeOpenAI, FakeReply
from pydantic import BaseModel

from agents import ReplyDrafts
from copilot import ChatMessage, FunctionChatModel, OpenAIChatModel
from copilot.errors import ModelError

GOOD = {"suggestions": [{"text": "您好", "citations": ["obj-price-too-high-mfg"]}]}
ASK = [ChatMessage(role="system", content="be brief"), ChatMessage(role="user", content="hi")]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(FakeReply(drafts=GOOD)) as server:
        yield server


def complete(model: OpenAIChatModel, schema: type[BaseModel] = ReplyDrafts) -> BaseModel:
    async def go() -> BaseModel:
        try:
            return await model.complete(ASK, schema)
        finally:
            await model.aclose()

    return asyncio.run(go())


def model_for(fake: FakeOpenAI, method: str = "json_schema", timeout_s: float = 2.0) -> OpenAIChatModel:
    model = OpenAIChatModel(
        base_url=fake.url,
        model="gpt-test",
        api_key="sk-secret-key",
        timeout_s=timeout_s,
        structured_output=method,  # type: ignore[arg-type]
    )
    model.warm_up()  # imports the client libraries: seconds on a busy machine, not the deadline's business
    return model


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_structured_output_each_way(fake: FakeOpenAI, method: str) -> None:
    result = complete(model_for(fake, method))
    assert result == ReplyDrafts.model_validate(GOOD)
    [request] = fake.completions()
    body = request.body
    assert body["model"] == "gpt-test"
    assert request.headers["authorization"] == "Bearer sk-secret-key"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    if method == "json_schema":
        assert body["response_format"]["type"] == "json_schema"
        schema = body["response_format"]["json_schema"]["schema"]
        assert "suggestions" in schema["properties"]
    elif method == "function_calling":
        assert body["tools"][0]["function"]["name"] == "ReplyDrafts"
    else:
        assert body["response_format"] == {"type": "json_object"}


def test_the_key_never_shows_in_repr(fake: FakeOpenAI) -> None:
    assert "sk-secret" not in repr(model_for(fake))


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (FakeReply(raw="Sure! Here are three ideas: 1. … (not JSON)"), "unparseable"),
        (FakeReply(raw='{"suggestions": [{"text": 3}]}'), "unparseable"),
        (FakeReply(status=500), "http 500"),
        (FakeReply(status=400), "http 400"),
        (FakeReply(status=401), "http 401"),
    ],
)
def test_failures_have_a_short_reason(fake: FakeOpenAI, reply: FakeReply, reason: str) -> None:
    fake.script(reply)
    with pytest.raises(ModelError) as caught:
        complete(model_for(fake, timeout_s=1.0))
    assert caught.value.reason == reason


def test_500s_are_retried_only_while_the_deadline_allows(fake: FakeOpenAI) -> None:
    fake.script(FakeReply(status=500))
    started = time.monotonic()
    with pytest.raises(ModelError, match="http 500"):
        complete(model_for(fake, timeout_s=1.0))
    assert 2 <= len(fake.completions()) <= 6  # backoff 0.1, 0.2, 0.4 s … inside 1 s
    assert time.monotonic() - started < 1.0 + 2.0  # the deadline, with room for a busy machine
    fake.script(FakeReply(status=400))
    with pytest.raises(ModelError, match="http 400"):
        complete(model_for(fake, timeout_s=1.0))
    assert len(fake.completions()) == 1  # a client error is not retried


def test_429_then_success(fake: FakeOpenAI) -> None:
    fake.script(FakeReply(status=429), FakeReply(drafts=GOOD))
    assert complete(model_for(fake)) == ReplyDrafts.model_validate(GOOD)
    assert len(fake.completions()) == 2


def test_slow_answer_times_out_at_the_deadline(fake: FakeOpenAI) -> None:
    fake.script(FakeReply(drafts=GOOD, delay_s=30))
    started = time.monotonic()
    with pytest.raises(ModelError) as caught:
        complete(model_for(fake, timeout_s=0.5))
    assert caught.value.reason == "timeout"
    assert time.monotonic() - started < 0.5 + 2.0
    assert len(fake.completions()) == 1  # a timeout is not retried


def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = OpenAIChatModel(base_url=f"http://127.0.0.1:{port}/v1", model="m", timeout_s=0.5)
    with pytest.raises(ModelError) as caught:
        complete(model)
    assert caught.value.reason == "connection refused"


def test_one_pool_per_event_loop(fake: FakeOpenAI) -> None:
    model = model_for(fake)
    complete(model)
    complete(model)  # a second asyncio.run: a new loop gets its own connections
    assert len(fake.completions()) == 2


class Answer(BaseModel):
    value: int


def test_function_model_validates_like_a_real_one() -> None:
    def script(messages: Sequence[ChatMessage], schema: type[BaseModel]) -> object:
        return {"value": len(messages)}

    model = FunctionChatModel(script, name="scripted")
    assert asyncio.run(model.complete(ASK, Answer)) == Answer(value=2)
    assert model.calls == [ASK]

    async def garbage(messages: Sequence[ChatMessage], schema: type[BaseModel]) -> str:
        return "not json"

    with pytest.raises(ModelError) as caught:
        asyncio.run(FunctionChatModel(garbage).complete(ASK, Answer))
    assert caught.value.reason == "unparseable"


def test_a_client_still_importing_counts_against_the_timeout(fake: FakeOpenAI) -> None:
    """A CLI press does not wait for the client's import (1-3 s cold): past the
    model's timeout it falls back, and nothing was sent."""
    model = OpenAIChatModel(base_url=fake.url, model="gpt-test", timeout_s=0.3)  # not warmed up
    with model._warming, pytest.raises(ModelError) as caught:  # held: the import is under way
        complete(model)
    assert caught.value.reason == "timeout"
    assert fake.completions() == []
    complete(model)  # once ready, the same model answers
    assert len(fake.completions()) == 1
