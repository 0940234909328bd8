"""Read an embedded Chroma store through chromadb's own Rust core.

``import chromadb`` costs 0.5-1 s of Python imports (its API layer, telemetry,
auth, every embedding-function module), while the Rust core that the embedded
client drives imports in ~30 ms. A process that only reads the atoms (a CLI
press, a server worker) opens the core directly with the very settings
chromadb's embedded client uses, in migration-*validate* mode so it never
changes the files. The data and the query engine are chromadb's own: this is
the same code path as ``PersistentClient`` minus the Python wrapper.

When the core is missing, has another interface, or the store's schema needs
migrating (a chromadb upgrade), :func:`open_reader` returns ``None`` and the
caller uses the chromadb client as before; ``tests/test_store.py`` checks both
paths answer alike.
"""

from __future__ import annotations

import json
import logging
import resource
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["RustReader", "open_reader"]

log = logging.getLogger("copilot.knowledge")

TENANT = "default_tenant"  # chromadb.config.DEFAULT_TENANT / DEFAULT_DATABASE
DATABASE = "default_database"


class RustReader:
    """The read half of a chromadb ``Collection`` (``query``, ``get``, ``count``),
    with the same keyword arguments and result shapes."""

    def __init__(self, bindings: Any, collection_id: str) -> None:
        self._bindings = bindings
        self._id = collection_id

    def query(
        self,
        *,
        query_embeddings: Sequence[Sequence[float]],
        n_results: int,
        where: dict[str, Any] | None = None,
        include: Sequence[str] = ("metadatas", "distances"),
    ) -> dict[str, Any]:
        got = self._bindings.query(
            self._id,
            None,
            [list(v) for v in query_embeddings],
            n_results,
            json.dumps(where) if where else None,
            None,
            list(include),
            TENANT,
            DATABASE,
        )
        return {"ids": got.ids, "metadatas": got.metadatas, "distances": got.distances}

    def get(
        self,
        ids: Sequence[str] | None = None,
        *,
        where: dict[str, Any] | None = None,
        include: Sequence[str] = ("metadatas",),
        limit: int | None = None,
        offset: int = 0,
    ) -> dict[str, Any]:
        got = self._bindings.get(
            self._id,
            list(ids) if ids is not None else None,
            json.dumps(where) if where else None,
            limit,
            offset,
            None,
            list(include),
            TENANT,
            DATABASE,
        )
        return {"ids": got.ids, "metadatas": got.metadatas}

    def count(self) -> int:
        return int(self._bindings.count(self._id, TENANT, DATABASE))


def open_reader(path: Path, collection: str) -> RustReader | None:
    """A reader of ``collection`` in the embedded store at ``path``, or ``None``
    when the Rust core cannot serve it (the caller then uses the chromadb client)."""
    database = path / "chroma.sqlite3"
    if not database.is_file():
        return None
    try:
        import chromadb_rust_bindings as core
    except ImportError:
        return None
    try:
        config = core.SqliteDBConfig(
            hash_type=core.MigrationHash.MD5,  # chromadb's default migrations_hash_algorithm
            migration_mode=core.MigrationMode.Validate,
            url=str(database),
        )
        bindings = core.Bindings(
            allow_reset=False,
            sqlite_db_config=config,
            persist_path=str(path),
            # chromadb's own choice: 5 files per HNSW index within the open-file limit
            hnsw_cache_size=resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 5,
        )
        found = bindings.get_collection(collection, TENANT, DATABASE)
        return RustReader(bindings, str(found.id))
    except Exception as exc:  # another core version, a schema to migrate, no such collection
        log.debug("atom store %s: reading through the chromadb client (%s)", path, exc)
        return None
