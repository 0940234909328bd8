"""The decision audit log: append-only, hash-chained, re-verifiable.

    with open_audit_store(settings.audit_path) as store:
        [shown] = store.append([AuditEvent(type="suggestion_shown", ...)])
        report = store.verify()

``AuditStore`` is the protocol every backend implements (SQLite embedded now,
PostgreSQL later); ``canonical_json`` and ``chain_hash`` define the hashes, so
anyone can re-verify an export.
"""

from typing import TYPE_CHECKING, Any

from ._actions import (
    append_action,
    append_feedback,
    edit_distance,
    find_shown,
    sweep_forever,
    sweep_ignored,
)
from ._chain import GENESIS_HASH, canonical_json, chain_hash
from ._checkpoint import Checkpoint, NamedCheckpoint
from ._events import AuditEvent, EventType, RepAction
from ._export import export_checkpoint, load_exported_checkpoint, signing_key
from ._facts import Fact
from ._open import open_audit_store
from ._report import build_report
from ._sqlite import SQLiteAuditStore
from ._store import AuditStore, VerifyReport
from ._tables import report_csv, report_tables

if TYPE_CHECKING:
    from ._postgres import PostgresAuditStore

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "AuditStore",
    "Checkpoint",
    "EventType",
    "Fact",
    "NamedCheckpoint",
    "PostgresAuditStore",
    "RepAction",
    "SQLiteAuditStore",
    "VerifyReport",
    "append_action",
    "append_feedback",
    "build_report",
    "canonical_json",
    "chain_hash",
    "edit_distance",
    "export_checkpoint",
    "find_shown",
    "load_exported_checkpoint",
    "open_audit_store",
    "report_csv",
    "report_tables",
    "signing_key",
    "sweep_forever",
    "sweep_ignored",
]


def __getattr__(name: str) -> Any:
    if name == "PostgresAuditStore":  # imported on use: psycopg stays out of SQLite-only processes
        from ._postgres import PostgresAuditStore

        return PostgresAuditStore
    raise AttributeError(f"module 'audit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
