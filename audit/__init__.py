"""The decision audit log: append-only, hash-chained, re-verifiable.

    with open_audit_store(settings.audit_path) as store:
        [shown] = store.append([AuditEvent(type="suggestion_shown", ...)])
        report = store.verify()

``AuditStore`` is the protocol every backend implements (SQLite embedded now,
PostgreSQL later); ``canonical_json`` and ``chain_hash`` define the hashes, so
anyone can re-verify an export.
"""

from ._actions import append_action, append_feedback, edit_distance, find_shown
from ._chain import GENESIS_HASH, canonical_json, chain_hash
from ._events import AuditEvent, EventType, RepAction
from ._facts import Fact
from ._open import open_audit_store
from ._report import build_report
from ._sqlite import SQLiteAuditStore
from ._store import AuditStore, VerifyReport
from ._tables import report_csv, report_tables

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "AuditStore",
    "EventType",
    "Fact",
    "RepAction",
    "SQLiteAuditStore",
    "VerifyReport",
    "append_action",
    "append_feedback",
    "build_report",
    "canonical_json",
    "chain_hash",
    "edit_distance",
    "find_shown",
    "open_audit_store",
    "report_csv",
    "report_tables",
]
