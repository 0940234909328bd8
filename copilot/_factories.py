"""Build the pluggable parts from settings alone: embedded defaults, real engines at scale."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._settings import Settings

if TYPE_CHECKING:
    from audit import AuditStore
    from knowledge import BilingualEmbedding, ChromaAtomStore

__all__ = ["make_atom_store", "make_audit_store", "make_embedding"]


def make_embedding(settings: Settings) -> BilingualEmbedding:
    from knowledge import BilingualEmbedding

    return BilingualEmbedding(
        threads=settings.embedding_threads, cache_dir=settings.cache_path, workers=settings.ingest_workers
    )


def make_atom_store(settings: Settings) -> ChromaAtomStore:
    """Chroma server when ``COPILOT_CHROMA_URL`` is set, else embedded Chroma under home."""
    from knowledge import ChromaAtomStore

    embedding = make_embedding(settings)
    if settings.chroma_url:
        return ChromaAtomStore.server(settings.chroma_url, settings.collection, embedding)
    return ChromaAtomStore.embedded(settings.chroma_path, settings.collection, embedding)


def make_audit_store(settings: Settings) -> AuditStore:
    """PostgreSQL when ``COPILOT_DATABASE_URL`` is set, else SQLite under home."""
    from audit import open_audit_store

    settings.home.mkdir(parents=True, exist_ok=True)
    return open_audit_store(settings.database_url or settings.audit_path)
