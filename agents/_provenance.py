"""Values with provenance: the grounded wrapper and the LLM-with-fallback wrapper.

Every agent the engine runs returns an :class:`AgentResult`: its value and a
:class:`copilot.Provenance` (engine, model, prompt ``name@version+sha256[:8]``,
fallback reason). :class:`Grounded` gives a plain grounded agent that shape;
:class:`WithFallback` runs the grounded agent first (milliseconds, deterministic),
then the LLM agent under the model's deadline, and returns the grounded value with
the reason when the model times out, errors or fails validation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Generator
from typing import Any, Generic, Protocol, TypeVar

from copilot import Provenance
from copilot.errors import ModelError

from ._base import AgentContext, AgentResult, PlainAgent

__all__ = ["Grounded", "LLMAgent", "Ungrounded", "WithFallback"]

log = logging.getLogger("copilot.agents")
T = TypeVar("T")


class Ungrounded(Exception):
    """The model's whole answer failed validation; ``reason`` starts with ``"ungrounded: "``."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class LLMAgent(Protocol[T]):
    """An agent backed by a chat model. ``grounded`` is the grounded agent's value, still
    being computed while the model is asked (awaited once the model has answered, to
    fill gaps)."""

    name: str
    model: str
    prompt: str

    async def run(self, ctx: AgentContext, grounded: Awaitable[T]) -> AgentResult[T]: ...


class Grounded(Generic[T]):
    """A plain grounded agent, answering with provenance (its prompt's ref, if it has one)."""

    def __init__(self, agent: PlainAgent[T]) -> None:
        self.agent = agent
        self.name = agent.name
        template = getattr(agent, "prompt", None)
        self.prompt: str = getattr(template, "ref", "")

    async def run(self, ctx: AgentContext) -> AgentResult[T]:
        """Runs the agent's CPU-bound work off the event loop, so a server stays responsive."""
        value = await ctx.cpu(_drive, self.agent, ctx)
        return AgentResult(value, Provenance(engine="grounded", prompt=self.prompt))


class _Pending(Generic[T]):
    """The grounded value, once its task is done; awaiting it never cancels the task."""

    def __init__(self, task: asyncio.Future[AgentResult[T]]) -> None:
        self.task = task

    def __await__(self) -> Generator[Any, None, T]:
        return self._value().__await__()

    async def _value(self) -> T:
        return (await asyncio.shield(self.task)).value


def _drive(agent: PlainAgent[T], ctx: AgentContext) -> T:
    """Run a grounded agent (a coroutine that never waits on I/O) to completion: in
    one step, without the cost of an event loop; one that does wait gets a loop."""
    coro = agent.run(ctx)
    try:
        coro.send(None)
    except StopIteration as finished:
        return finished.value  # type: ignore[no-any-return]
    coro.close()
    return asyncio.run(agent.run(ctx))


class WithFallback(Generic[T]):
    """The LLM agent under ``timeout_s``, the grounded agent's value as the safety net.

    A model enforces ``timeout_s`` on itself (and so can name a better reason than
    "timeout", e.g. "connection refused" after its last retry); the wrapper's own
    deadline, ``GRACE_S`` later, catches one that does not.
    """

    GRACE_S = 0.5

    def __init__(self, grounded: Grounded[T], llm: LLMAgent[T], *, timeout_s: float) -> None:
        self.grounded = grounded
        self.llm = llm
        self.name = grounded.name
        self.timeout_s = timeout_s

    async def run(self, ctx: AgentContext) -> AgentResult[T]:
        # The grounded agent works (in a thread) while the model is asked.
        safe_task = asyncio.ensure_future(self.grounded.run(ctx))
        try:
            async with asyncio.timeout(self.timeout_s + self.GRACE_S):
                return await self.llm.run(ctx, _Pending(safe_task))
        except TimeoutError:
            reason = "timeout"
        except ModelError as exc:
            reason = exc.reason
        except Ungrounded as exc:
            reason = exc.reason
        except Exception as exc:  # a bug in the LLM path must not cost the grounded answer
            log.exception("agent %s: the LLM path failed", self.name)
            reason = f"error: {type(exc).__name__}"
        log.warning("agent %s fell back to the grounded engine: %s", self.name, reason)
        safe = await safe_task
        # The prompt stays the grounded one: it made what is shown. The model asked stays on record.
        provenance = safe.provenance.model_copy(update={"model": self.llm.model, "fallback": reason})
        return AgentResult(safe.value, provenance)
