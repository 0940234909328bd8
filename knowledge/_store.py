"""The atom store: one protocol, an embedded Chroma default, a Chroma server at scale."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from copilot.errors import StoreError

from ._atom import Atom
from ._chroma_read import open_reader
from ._embeddings import BilingualEmbedding

__all__ = ["AtomStore", "ChromaAtomStore", "ScoredAtom", "StoreFilter"]

log = logging.getLogger("copilot.knowledge.store")
NO_EXPIRY = 99_991_231


@dataclass(frozen=True)
class StoreFilter:
    """What a query may return. ``None`` means "any"."""

    types: Sequence[str] | None = None
    industry: str | None = None
    stage: str | None = None
    served_on: date | None = None  # only approved atoms valid on this day


@dataclass(frozen=True)
class ScoredAtom:
    atom: Atom
    similarity: float


class AtomStore(Protocol):
    """Where atoms live. ``query`` is the hot path; the rest serves ingest and listing."""

    def query(self, text: str | Sequence[str], where: StoreFilter, k: int) -> list[ScoredAtom]:
        """The ``k`` nearest atoms passing ``where``. Several texts (newest first) are
        blended into one query vector, each weighing half the one before."""
        ...

    def upsert(self, atoms: Sequence[Atom]) -> None: ...
    def delete(self, ids: Sequence[str]) -> None: ...
    def generation(self) -> tuple[int, int] | None:
        """Changes with every write by any process; None when the store cannot tell."""
        ...

    def manifest(self) -> dict[str, str]: ...
    def states(self) -> dict[str, tuple[str, str, int]]:
        """id -> (content hash, status, version) of every atom, without parsing atoms."""
        ...

    def atoms(self, where: StoreFilter | None = None) -> list[Atom]: ...
    def count(self) -> int: ...
    def close(self) -> None: ...


GENERATION_FILE = "copilot-generation"  # rewritten by every write to an embedded store
FOLLOW_S = 1.0
PAGE = 5_000  # records per Chroma get


def _generation(path: Path | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        found = (path / GENERATION_FILE).stat()  # replaced whole: a new inode each write
    except OSError:
        return None
    return found.st_ino, found.st_mtime_ns


def _ord(day: date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


def _metadata(atom: Atom) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "type": atom.type,
        "status": atom.status,
        "language": atom.language,
        "version": atom.version,
        "hash": atom.content_hash,
        "valid_until": _ord(atom.valid_until) if atom.valid_until else NO_EXPIRY,
        "atom": atom.model_dump_json(),
        "ind_all": not atom.industries,
        "stage_all": not atom.stages,
    }
    for industry in atom.industries:
        meta[f"ind_{industry}"] = True
    for stage in atom.stages:
        meta[f"stage_{stage}"] = True
    return meta


def _document(atom: Atom) -> str:
    parts = [atom.title, atom.scenario, " ".join(atom.competitors), atom.body]
    return "\n".join(part for part in parts if part)


def _matches(meta: Mapping[str, Any], f: StoreFilter) -> bool:
    """``_where`` evaluated in Python on one record's metadata (the same rules)."""
    if f.served_on is not None and (
        meta.get("status") != "approved" or int(meta.get("valid_until", 0)) < _ord(f.served_on)
    ):
        return False
    if f.types and meta.get("type") not in f.types:
        return False
    if f.industry and not (meta.get("ind_all") or meta.get(f"ind_{f.industry}")):
        return False
    return not (f.stage and not (meta.get("stage_all") or meta.get(f"stage_{f.stage}")))


def _where(f: StoreFilter) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = []
    if f.served_on is not None:
        clauses += [{"status": "approved"}, {"valid_until": {"$gte": _ord(f.served_on)}}]
    if f.types:
        clauses.append({"type": {"$in": list(f.types)}})
    if f.industry:
        clauses.append({"$or": [{"ind_all": True}, {f"ind_{f.industry}": True}]})
    if f.stage:
        clauses.append({"$or": [{"stage_all": True}, {f"stage_{f.stage}": True}]})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class _Records:
    """Records' metadata (and parsed atoms) by id, least recently used dropped first;
    valid until the store's write marker changes (then cleared). Thread-safe."""

    def __init__(self, size: int = 20_000) -> None:
        self._size = size
        self._metas: OrderedDict[str, tuple[Mapping[str, Any], Atom | None]] = OrderedDict()
        self._lock = threading.Lock()
        self._count: int | None = None

    def clear(self) -> None:
        with self._lock:
            self._metas.clear()
            self._count = None

    def count(self, col: Any) -> int:
        """The store's record count (Chroma counts by scanning: 12 ms at 100k records)."""
        if self._count is None:
            self._count = int(col.count())
        return self._count

    def metas(self, ids: Sequence[str], col: Any) -> list[Mapping[str, Any] | None]:
        with self._lock:
            missing = [i for i in ids if i not in self._metas]
        if missing:
            got = col.get(ids=missing, include=["metadatas"])
            fetched = dict(zip(got["ids"], _metas(got), strict=True))
            with self._lock:
                for i, meta in fetched.items():
                    if meta is not None:
                        self._metas[i] = (meta, None)
                while len(self._metas) > self._size:
                    self._metas.popitem(last=False)
        out: list[Mapping[str, Any] | None] = []
        with self._lock:
            for i in ids:
                entry = self._metas.get(i)
                if entry is not None:
                    self._metas.move_to_end(i)
                out.append(entry[0] if entry else None)
        return out

    def atom(self, atom_id: str, meta: Mapping[str, Any]) -> Atom:
        with self._lock:
            entry = self._metas.get(atom_id)
        if entry is not None and entry[0] is meta and entry[1] is not None:
            return entry[1]
        atom = Atom.model_validate_json(str(meta["atom"]))
        with self._lock:
            entry = self._metas.get(atom_id)
            if entry is not None and entry[0] is meta:
                self._metas[atom_id] = (meta, atom)
        return atom


class _Collection:
    """A Chroma collection whose failures surface as :class:`StoreError` naming where."""

    def __init__(self, collection: Any, where: str) -> None:
        self._collection = collection
        self._where = where

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._collection, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except StoreError:
                raise
            except Exception as exc:  # chromadb and httpx raise many unrelated types
                reason = f"atom store {self._where}: {name} failed: {type(exc).__name__}: {exc}"
                raise StoreError(reason) from exc

        return call


class ChromaAtomStore:
    """Atoms in a Chroma collection; each record keeps the whole atom in its metadata."""

    def __init__(
        self,
        client: Any,
        collection: str,
        embedding: BilingualEmbedding,
        *,
        prefetch: int = 96,
        reader: Any = None,
        path: Path | None = None,
        read_only: bool = False,
    ) -> None:
        """``client`` is a chromadb client; ``reader`` (see ``_chroma_read``) stands in
        for it in a read-only store, and then ``client`` is ``None``. ``path`` is an
        embedded store's folder: writers mark each change there, readers reopen on it."""
        self._embedding = embedding
        self.prefetch = prefetch
        self._client = client
        self._path = path
        self._name = collection
        self.read_only = read_only or reader is not None
        self._seen = (_generation(path), time.monotonic())
        # Readers of an embedded store know when any process writes (the marker), so
        # they may keep records between presses; others always ask Chroma.
        self._records = _Records() if self.read_only and path is not None else None
        if reader is not None:
            self._col = _Collection(reader, f"collection {collection!r}")
            return
        from ._chroma_ef import ChromaEmbedding

        try:
            col = client.get_or_create_collection(
                collection,
                embedding_function=ChromaEmbedding(embedding),
                metadata={"hnsw:space": "cosine"},
            )
        except Exception as exc:  # chromadb raises several unrelated types
            reason = f"cannot open the atom collection {collection!r}: {exc}"
            raise StoreError(reason) from exc
        self._col = _Collection(col, f"collection {collection!r}")

    @classmethod
    def embedded(
        cls,
        path: Path,
        collection: str,
        embedding: BilingualEmbedding,
        *,
        prefetch: int = 96,
        read_only: bool = False,
    ) -> ChromaAtomStore:
        """The store under ``path``. A ``read_only`` store (a press, a server worker)
        reads through chromadb's Rust core without importing chromadb's Python API
        (``_chroma_read``); it falls back to the client when the core cannot serve."""
        if read_only and (reader := open_reader(path, collection)) is not None:
            return cls(None, collection, embedding, prefetch=prefetch, reader=reader, path=path)
        # No store yet (a server started before the first ingest) or a core that cannot
        # serve: the client, still read-only; it switches to the core once a writer
        # has written (``_follow_writers``).
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        try:
            path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(
                path=str(path), settings=ChromaSettings(anonymized_telemetry=False)
            )
        except Exception as exc:  # permissions, a full disk, a corrupt database
            reason = f"cannot open the embedded atom store at {path} (under COPILOT_HOME): {exc}"
            raise StoreError(reason) from exc
        store = cls(client, collection, embedding, prefetch=prefetch, path=path, read_only=read_only)
        if not read_only and store.generation() is None:
            store._mark_changed()  # a store from before the marker existed gets one
        return store

    @classmethod
    def server(
        cls, url: str, collection: str, embedding: BilingualEmbedding, *, prefetch: int = 96
    ) -> ChromaAtomStore:
        from urllib.parse import urlparse

        import chromadb
        from chromadb.config import Settings as ChromaSettings

        parsed = urlparse(url)
        if parsed.username or parsed.password:
            raise StoreError("COPILOT_CHROMA_URL must not carry credentials; use http://host:8000")
        if not parsed.hostname:
            raise StoreError(f"COPILOT_CHROMA_URL {url!r} has no host; use http://host:8000")
        try:
            client = chromadb.HttpClient(
                host=parsed.hostname,
                port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                ssl=parsed.scheme == "https",
                settings=ChromaSettings(anonymized_telemetry=False),
            )
        except Exception as exc:  # connection refused, DNS, TLS: chromadb wraps them variously
            reason = f"cannot reach the Chroma server at {url} (COPILOT_CHROMA_URL): {exc}"
            raise StoreError(reason) from exc
        return cls(client, collection, embedding, prefetch=prefetch)

    def query(self, text: str | Sequence[str], where: StoreFilter, k: int) -> list[ScoredAtom]:
        """Nearest-first. Chroma's metadata filters cost 40-150 ms at 10k atoms while an
        unfiltered search costs ~2 ms, so the nearest ``prefetch`` records (then three
        times as many) are fetched unfiltered and filtered here with the same rules;
        only when too few pass does Chroma filter."""
        started = time.perf_counter()
        self._follow_writers()
        vector = self._query_vector(text)
        total = self._records.count(self._col) if self._records is not None else self.count()
        fetch = min(max(self.prefetch, k), total)
        if fetch == 0:
            return []
        hits: list[tuple[str, Mapping[str, Any], float]] = []
        while True:  # widen the unfiltered search (x3) before asking Chroma to filter
            found = self._search(vector, fetch, None)
            hits = [hit for hit in found if _matches(hit[1], where)][:k]
            if len(hits) == k or fetch == total or fetch >= self.prefetch * 3:
                break
            fetch = min(fetch * 3, total)
        path = f"prefiltered from {fetch}"
        if len(hits) < k and fetch < total:
            hits, path = self._search(vector, k, _where(where)), "chroma-filtered"
        log.debug("atom query k=%d %s in %.1f ms", k, path, (time.perf_counter() - started) * 1000)
        return [ScoredAtom(self._atom(i, m), 1.0 - float(d)) for i, m, d in hits]

    def _atom(self, atom_id: str, meta: Mapping[str, Any]) -> Atom:
        if self._records is None:
            return Atom.model_validate_json(str(meta["atom"]))
        return self._records.atom(atom_id, meta)

    def _query_vector(self, text: str | Sequence[str]) -> list[float]:
        texts = [text] if isinstance(text, str) else list(text)
        vectors = np.asarray(self._embedding(texts), dtype=np.float32)
        weights = 0.5 ** np.arange(len(texts), dtype=np.float32)
        blended = (weights[:, None] * vectors).sum(axis=0)
        blended /= float(np.linalg.norm(blended)) or 1.0
        return [float(x) for x in blended]

    def _search(
        self, vector: list[float], n: int, where: dict[str, Any] | None
    ) -> list[tuple[str, Mapping[str, Any], float]]:
        """(id, metadata, distance) of the ``n`` nearest records passing ``where``. A
        reader asks Chroma for ids and distances only and reads each record's metadata
        once per store generation: reading 96 records' metadata cost ~10 ms a press."""
        records = self._records if where is None else None
        include = ["distances"] if records is not None else ["metadatas", "distances"]
        result = self._col.query(query_embeddings=[vector], n_results=n, where=where, include=include)
        ids = [str(i) for i in (result.get("ids") or [[]])[0]]
        dists = (result.get("distances") or [[]])[0]
        metas = records.metas(ids, self._col) if records is not None else (result.get("metadatas") or [[]])[0]
        # A record deleted by another process can linger in this process's vector
        # index for a while; its metadata is gone, so it is skipped.
        return [(i, m, d) for i, m, d in zip(ids, metas, dists, strict=True) if m is not None]

    def upsert(self, atoms: Sequence[Atom]) -> None:
        self._writable()
        if atoms:
            self._col.upsert(
                ids=[a.id for a in atoms],
                documents=[_document(a) for a in atoms],
                metadatas=[_metadata(a) for a in atoms],
            )
            self._mark_changed()

    def delete(self, ids: Sequence[str]) -> None:
        self._writable()
        if ids:
            self._col.delete(ids=list(ids))
            self._mark_changed()

    def generation(self) -> tuple[int, int] | None:
        """A marker every write to an embedded store changes (None for a server):
        equal markers mean no process wrote in between."""
        return _generation(self._path)

    def _follow_writers(self) -> None:
        """A reader reopens when another process changed the store: chromadb keeps a
        process's vector index in memory, so it would not see new atoms otherwise.
        Checked at most every ``FOLLOW_S`` seconds (one ``stat``)."""
        marker, checked = self._seen
        now = time.monotonic()
        if not self.read_only or now - checked < FOLLOW_S:
            return
        current = _generation(self._path)
        self._seen = (current, now)
        if current != marker and self._path is not None:
            reader = open_reader(self._path, self._name)
            if self._records is not None:
                self._records.clear()
            if reader is not None:
                self._col = _Collection(reader, f"collection {self._name!r}")
                log.info("atom store changed by another process: reopened %s", self._path)

    def _mark_changed(self) -> None:
        if self._path is None:
            return
        marker = self._path / GENERATION_FILE
        tmp = marker.with_suffix(".tmp")
        tmp.write_text(f"{time.time_ns()}\n", encoding="ascii")
        tmp.replace(marker)

    def _writable(self) -> None:
        if self.read_only:
            raise StoreError("the atom store was opened read-only; ingest with: copilot knowledge ingest DIR")

    def manifest(self) -> dict[str, str]:
        return {i: str(m["hash"]) for i, m in self._records_where(None)}

    def states(self) -> dict[str, tuple[str, str, int]]:
        return {
            i: (str(m["hash"]), str(m["status"]), int(m["version"])) for i, m in self._records_where(None)
        }

    def atoms(self, where: StoreFilter | None = None) -> list[Atom]:
        found = [Atom.model_validate_json(str(m["atom"])) for _, m in self._records_where(where)]
        return sorted(found, key=lambda a: a.id)

    def _records_where(self, where: StoreFilter | None) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """(id, metadata) of every record passing ``where``, a page at a time: one
        Chroma ``get`` of more than ~32,000 records fails (too many SQL variables)."""
        clause = _where(where or StoreFilter())
        offset = 0
        while True:
            got = self._col.get(where=clause, include=["metadatas"], limit=PAGE, offset=offset)
            ids = got["ids"]
            yield from zip(ids, _metas(got), strict=True)
            if len(ids) < PAGE:
                return
            offset += PAGE

    def count(self) -> int:
        return int(self._col.count())

    def close(self) -> None:
        """Release the client's connections (a server client holds an HTTP pool) and
        stop the embedding's ingest workers."""
        self._embedding.close()
        close = getattr(self._client, "close", None)
        if callable(close):
            close()


def _metas(got: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(got.get("metadatas") or [])
