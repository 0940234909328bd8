"""The protocol every agent implements, and the context one Suggest press gives them.

An :class:`Agent` returns its value with provenance (:class:`AgentResult`). The
grounded agents are written as :class:`PlainAgent` (value only) and wrapped by
``agents.Grounded``; the LLM ones sit behind ``agents.WithFallback``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, Protocol, TypeVar

from copilot import (
    CompetitorResponse,
    Conversation,
    DecisionChainReport,
    Guidance,
    Provenance,
    fill_value_ok,
)
from knowledge import Retrieval

__all__ = ["Agent", "AgentContext", "AgentResult", "PlainAgent"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True)
class AgentContext:
    """Everything an agent may read. ``conversation`` is already PII-redacted."""

    conversation: Conversation
    language: str
    retrieval: Retrieval
    today: date
    # What the grounded agents found, for agents that run after them (the LLM reply).
    competitor: CompetitorResponse | None = None
    decision_chain: DecisionChainReport | None = None
    guidance: list[Guidance] = field(default_factory=list)
    # Runs an agent's CPU-bound work off the event loop. The engine passes its press
    # lanes (presses take CPU turns in arrival order); the default is a plain thread.
    cpu: Callable[..., Awaitable[Any]] = asyncio.to_thread

    def fill_values(self) -> dict[str, str]:
        deal = self.conversation.deal
        rep = self.conversation.rep()
        default_product = "我们的方案" if self.language == "zh" else "our solution"
        default_customer = "贵公司" if self.language == "zh" else "your company"
        default_rep = "我" if self.language == "zh" else "I"
        # Never fill with a value that fails the deal-field check or holds a redaction token.
        return {
            "customer": deal.customer if fill_value_ok(deal.customer) else default_customer,
            "product": deal.product if fill_value_ok(deal.product) else default_product,
            "rep": rep.name if rep and fill_value_ok(rep.name) else default_rep,
        }

    def customer_messages(self) -> list[tuple[int, str]]:
        """(index, text) of the customer's messages, newest last."""
        conv = self.conversation
        return [(i, m.text) for i, m in enumerate(conv.messages) if conv.side_of(m) == "customer"]


@dataclass(frozen=True)
class AgentResult(Generic[T_co]):
    """An agent's value and where it came from."""

    value: T_co
    provenance: Provenance


class Agent(Protocol[T_co]):
    """One agent: a name (used in timings and prompt versions) and one coroutine
    returning its value with provenance."""

    name: str

    async def run(self, ctx: AgentContext) -> AgentResult[T_co]: ...


class PlainAgent(Protocol[T_co]):
    """A grounded agent that returns its value alone (wrapped by ``agents.Grounded``)."""

    name: str

    async def run(self, ctx: AgentContext) -> T_co: ...
