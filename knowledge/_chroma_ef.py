"""The embedding as a registered Chroma embedding function (imported with chromadb's
client only), so a persisted collection reopens without passing it again."""

from __future__ import annotations

from typing import Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from ._embeddings import EMBEDDING_NAME, BilingualEmbedding

__all__ = ["ChromaEmbedding"]


@register_embedding_function
class ChromaEmbedding(EmbeddingFunction[Documents]):
    """:class:`BilingualEmbedding` behind Chroma's embedding-function interface."""

    def __init__(self, embedding: BilingualEmbedding) -> None:
        self.embedding = embedding

    def __call__(self, input: Documents) -> Embeddings:
        return self.embedding(list(input))

    @staticmethod
    def name() -> str:
        return EMBEDDING_NAME

    def get_config(self) -> dict[str, Any]:
        return self.embedding.config()

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ChromaEmbedding:
        return ChromaEmbedding(BilingualEmbedding(threads=int(config.get("threads", 1))))

    def default_space(self) -> Any:
        return "cosine"

    def supported_spaces(self) -> list[Any]:
        return ["cosine", "ip", "l2"]
