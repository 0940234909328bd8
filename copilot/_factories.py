"""Build the pluggable parts from settings alone: embedded defaults, real engines at scale."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._chat import ChatModel
from ._models import CompetitorResponse, DecisionChainReport, Guidance, Suggestion
from ._settings import Settings

if TYPE_CHECKING:
    from agents import Agent
    from audit import AuditStore
    from knowledge import BilingualEmbedding, ChromaAtomStore

    from ._chat import OpenAIChatModel

__all__ = [
    "AgentSet",
    "make_agents",
    "make_atom_store",
    "make_audit_store",
    "make_chat_model",
    "make_embedding",
]


def make_embedding(settings: Settings) -> BilingualEmbedding:
    from knowledge import BilingualEmbedding

    return BilingualEmbedding(
        threads=settings.embedding_threads, cache_dir=settings.cache_path, workers=settings.ingest_workers
    )


def make_atom_store(settings: Settings, *, read_only: bool = False) -> ChromaAtomStore:
    """Chroma server when ``COPILOT_CHROMA_URL`` is set, else embedded Chroma under home.
    A ``read_only`` embedded store (presses, listing) opens without chromadb's Python API."""
    from knowledge import ChromaAtomStore

    embedding = make_embedding(settings)
    if settings.chroma_url:
        return ChromaAtomStore.server(settings.chroma_url, settings.collection, embedding)
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)  # state is private: home 0700
    return ChromaAtomStore.embedded(settings.chroma_path, settings.collection, embedding, read_only=read_only)


def make_audit_store(settings: Settings, *, read_only: bool = False) -> AuditStore:
    """PostgreSQL when ``COPILOT_DATABASE_URL`` is set, else SQLite under home
    (created private: mode 0700)."""
    from audit import open_audit_store

    if not read_only:
        settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    return open_audit_store(
        settings.database_url or settings.audit_path, read_only=read_only, home=settings.home
    )


def make_chat_model(settings: Settings) -> OpenAIChatModel | None:
    """The OpenAI-compatible model when ``COPILOT_LLM_BASE_URL`` is set, else none
    (no network, no key: the grounded engine alone)."""
    if not settings.llm_base_url:
        return None
    from ._chat import OpenAIChatModel

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return OpenAIChatModel(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=key,
        timeout_s=settings.llm_timeout_s,
        structured_output=settings.llm_structured_output,
    )


@dataclass(frozen=True)
class AgentSet:
    """The agents of one press, each answering with provenance."""

    reply: Agent[list[Suggestion]]
    competitor: Agent[CompetitorResponse | None]
    decision_chain: Agent[DecisionChainReport]
    guidance: Agent[list[Guidance]]
    chat_model: ChatModel | None = None


def make_agents(settings: Settings, chat_model: ChatModel | None = None) -> AgentSet:
    """Grounded agents; the reply agent becomes LLM-with-grounded-fallback when a chat
    model is given or configured."""
    from agents import (
        CompetitorAgent,
        DecisionChainAgent,
        Grounded,
        GuidanceAgent,
        LLMReplyAgent,
        ReplyAgent,
        WithFallback,
    )

    chat_model = chat_model or make_chat_model(settings)
    grounded = Grounded(ReplyAgent())
    reply: Agent[list[Suggestion]] = grounded
    if chat_model is not None:
        reply = WithFallback(grounded, LLMReplyAgent(chat_model), timeout_s=settings.llm_timeout_s)
    return AgentSet(
        reply,
        Grounded(CompetitorAgent()),
        Grounded(DecisionChainAgent()),
        Grounded(GuidanceAgent()),
        chat_model,
    )
