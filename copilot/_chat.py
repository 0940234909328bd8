"""The chat model: one method, ``complete(messages, schema) -> schema instance``.

Two implementations, as httpx has a real transport and ``MockTransport``:

* :class:`OpenAIChatModel` talks to any OpenAI-compatible endpoint (OpenAI, Azure
  OpenAI, DeepSeek, Qwen/DashScope, vLLM, Ollama) through ``langchain-openai``
  structured output, with a finite timeout, no library retries, and retries of its
  own only while the model's share of the press (``timeout_s``) allows.
* :class:`FunctionChatModel` calls a Python function: tests and evals script the
  model's answer (or its failure) without a network.

Every failure becomes :class:`copilot.errors.ModelError` with a short ``reason``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import ssl
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ModelError

if TYPE_CHECKING:
    import httpx
    from langchain_core.runnables import Runnable
    from langchain_openai import ChatOpenAI

__all__ = ["ChatMessage", "ChatModel", "FunctionChatModel", "OpenAIChatModel"]

log = logging.getLogger("copilot.llm")
S = TypeVar("S", bound=BaseModel)
StructuredOutput = Literal["json_schema", "function_calling", "json_mode"]
_BACKOFF_S = 0.1


class _Probe(BaseModel):
    """A schema used only to warm up the structured-output machinery."""

    ok: bool


class ChatMessage(BaseModel):
    """One chat turn sent to the model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class ChatModel(Protocol):
    """Answers a chat with an instance of ``schema``, or raises ``ModelError``."""

    name: str

    async def complete(self, messages: Sequence[ChatMessage], schema: type[S]) -> S: ...


Reply = BaseModel | dict[str, Any] | str
ChatFunction = Callable[[Sequence[ChatMessage], type[BaseModel]], Reply | Awaitable[Reply]]


class FunctionChatModel:
    """A chat model backed by a function (sync or async) of ``(messages, schema)``.

    The function returns the schema instance, a dict, or raw JSON text (parsed and
    validated as a real model's reply would be); raising ``ModelError`` scripts a
    failure. ``calls`` keeps every message list it was given.
    """

    def __init__(self, function: ChatFunction, *, name: str = "function") -> None:
        self.function = function
        self.name = name
        self.calls: list[list[ChatMessage]] = []

    async def complete(self, messages: Sequence[ChatMessage], schema: type[S]) -> S:
        self.calls.append(list(messages))
        reply = self.function(messages, schema)
        if inspect.isawaitable(reply):
            reply = await reply
        return _validate(reply, schema)


def _validate(reply: object, schema: type[S]) -> S:
    if isinstance(reply, schema):
        return reply
    try:
        if isinstance(reply, str):
            return schema.model_validate_json(reply)
        if isinstance(reply, BaseModel):
            reply = reply.model_dump()
        return schema.model_validate(reply)
    except ValidationError as exc:
        raise ModelError("unparseable", f"{exc.error_count()} error(s) against {schema.__name__}") from None


class OpenAIChatModel:
    """Any OpenAI-compatible chat endpoint, through ``langchain-openai``.

    One HTTP connection pool per event loop (a server has one; each CLI press has
    its own); :meth:`aclose` closes the current loop's pool.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 2.5,
        structured_output: StructuredOutput = "json_schema",
    ) -> None:
        self.base_url = base_url
        self.name = model
        self.timeout_s = timeout_s
        self.structured_output = structured_output
        self._api_key = api_key or "not-needed"  # vLLM and Ollama accept any key
        self._ssl: ssl.SSLContext | None = None
        self._chat: ChatOpenAI | None = None
        self._warming = threading.Lock()
        self._ready = threading.Event()  # the client is imported and built
        self._warmer: threading.Thread | None = None
        self._starting = threading.Lock()
        # Presses waiting for the client: each event loop's future, resolved by the warm-up.
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pool] = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIChatModel(base_url={self.base_url!r}, model={self.name!r})"

    async def complete(self, messages: Sequence[ChatMessage], schema: type[S]) -> S:
        started = time.monotonic()
        await self._client_ready(started)
        runnable = self._pool().runnable(schema)
        turns = [(m.role, m.content) for m in messages]
        attempt = 0
        last = "timeout"  # a deadline hit while retrying keeps the reason of the retried failure
        while True:
            attempt += 1
            left = self.timeout_s - (time.monotonic() - started)
            try:
                async with asyncio.timeout(left):
                    reply = await runnable.ainvoke(turns)
                result = _validate(reply, schema)
            except TimeoutError:
                self._log(started, attempt, "timeout")
                raise ModelError(last, f"no answer within {self.timeout_s:g} s") from None
            except ModelError as exc:
                self._log(started, attempt, exc.reason)
                raise
            except Exception as exc:  # the client's many error types, mapped to reasons
                reason, retry = _classify(exc)
                last = reason
                self._log(started, attempt, reason)
                wait = _BACKOFF_S * 2 ** (attempt - 1)
                elapsed = time.monotonic() - started
                if not retry or elapsed + wait + elapsed / attempt > self.timeout_s:
                    raise ModelError(reason, type(exc).__name__) from None
                await asyncio.sleep(wait)
                continue
            self._log(started, attempt, "ok")
            return result

    def warm_up_in_background(self) -> None:
        """Start :meth:`warm_up` in a thread, so it overlaps the other start-up work."""
        with self._starting:
            if self._warmer is None:
                self._warmer = threading.Thread(target=self.warm_up, name="llm-warm-up", daemon=True)
                self._warmer.start()

    async def _client_ready(self, started: float) -> None:
        """Wait, within the model's timeout, for the client's import (1-3 s in a cold
        process: a CLI press). Past the timeout the press falls back to the grounded
        engine and the process may exit while the import goes on in its daemon thread."""
        if self._ready.is_set():
            return
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        with self._starting:
            if self._ready.is_set():
                return
            self._waiters.append((loop, ready))
        self.warm_up_in_background()
        try:
            await asyncio.wait_for(ready, max(0.0, self.timeout_s - (time.monotonic() - started)))
        except TimeoutError:
            self._log(started, 0, "timeout")
            reason = f"the model client was not ready within {self.timeout_s:g} s"
            raise ModelError("timeout", reason) from None

    def warm_up(self) -> None:
        """Import and build the client before the first press (seconds on a cold, busy
        machine: that must not eat the model's share of a press). No network."""
        with self._warming:
            template = self._template()
            template.with_structured_output(_Probe, method=self.structured_output)  # its lazy imports
            _ = template.root_async_client.chat.completions  # openai imports its resources on first use
        with self._starting:
            self._ready.set()
            waiters, self._waiters = self._waiters, []
        for loop, ready in waiters:
            with contextlib.suppress(RuntimeError):  # that press's loop has ended
                loop.call_soon_threadsafe(_resolve, ready)

    def _template(self) -> ChatOpenAI:
        """The configured client, built once; each event loop gets a copy with its own pool."""
        if self._chat is None:
            import httpx
            from langchain_openai import ChatOpenAI

            tls = self._tls()  # the clients given here go unused: each loop's copy gets its own
            self._chat = ChatOpenAI(
                base_url=self.base_url,
                model=self.name,
                api_key=self._api_key,  # type: ignore[arg-type]  # str is accepted
                timeout=self.timeout_s,
                max_retries=0,
                http_client=httpx.Client(verify=tls),
                http_async_client=httpx.AsyncClient(verify=tls),
            )
        return self._chat

    def _tls(self) -> ssl.SSLContext:
        """One TLS context for every pool (loading the CA bundle costs 20-150 ms)."""
        if self._ssl is None:
            import httpx

            self._ssl = httpx.create_ssl_context()
        return self._ssl

    async def aclose(self) -> None:
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.http.aclose()

    def _pool(self) -> _Pool:
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            pool = self._pools[loop] = _Pool(self)
        return pool

    def _log(self, started: float, attempt: int, outcome: str) -> None:
        ms = (time.monotonic() - started) * 1000
        log.info("llm %s attempt %d: %s in %.0f ms", self.name, attempt, outcome, ms)


class _Pool:
    """The HTTP client and the structured-output runnables of one event loop."""

    def __init__(self, model: OpenAIChatModel) -> None:
        import httpx
        import openai

        self.http: httpx.AsyncClient = httpx.AsyncClient(timeout=model.timeout_s, verify=model._tls())
        self.method = model.structured_output
        client = openai.AsyncOpenAI(
            api_key=model._api_key,
            base_url=model.base_url,
            timeout=model.timeout_s,
            max_retries=0,
            http_client=self.http,  # type: ignore[arg-type]  # openai 3 types name httpx2; httpx works
        )
        update = {"root_async_client": client, "async_client": client.chat.completions}
        self.llm = model._template().model_copy(update=update)
        self._runnables: dict[type[BaseModel], Runnable[Any, Any]] = {}

    def runnable(self, schema: type[BaseModel]) -> Runnable[Any, Any]:
        runnable = self._runnables.get(schema)
        if runnable is None:
            runnable = self._runnables[schema] = self.llm.with_structured_output(schema, method=self.method)
        return runnable


def _refused(exc: BaseException) -> bool:
    """Whether a connection error was a refused connection (the server is down)."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, ConnectionRefusedError) or "refused" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _classify(exc: Exception) -> tuple[str, bool]:
    """(reason, worth retrying) for an exception from the OpenAI client or the parser."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return "timeout", False
    if isinstance(exc, openai.APIConnectionError):
        return ("connection refused" if _refused(exc) else "connection error"), True
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        return f"http {status}", status == 429 or status >= 500
    if isinstance(exc, (ValueError, ValidationError, json.JSONDecodeError)):
        return "unparseable", False  # the parser's errors (OutputParserException is a ValueError)
    return f"error: {type(exc).__name__}", False


def _resolve(ready: asyncio.Future[None]) -> None:
    if not ready.done():  # a press that gave up waiting cancelled it
        ready.set_result(None)
