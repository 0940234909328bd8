"""The decision audit log: append-only, hash-chained, re-verifiable.

    with open_audit_store(settings.audit_path) as store:
        [shown] = store.append([AuditEvent(type="suggestion_shown", ...)])
        report = store.verify()

``AuditStore`` is the protocol every backend implements (SQLite embedded now,
PostgreSQL later); ``canonical_json`` and ``chain_hash`` define the hashes, so
anyone can re-verify an export.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from ._postgres import PostgresAuditStore
    from ._report import build_report
    from ._review_auth import Principal, load_review_tokens
    from ._review_index import ReviewIndex, SetRow
    from ._review_query import SetFilters, dashboard_figures, sets_csv, weekly_series
    from ._review_web import AtomInfo, ReviewApp
    from ._sqlite import SQLiteAuditStore
    from ._store import AuditStore, VerifyReport
    from ._tables import report_csv, report_tables
    from ._timeline import SetTimeline, diff_ops, set_timeline

# Every name is imported on first use (PEP 562): a press loads the log it writes, not the
# review side's queries, tables and checkpoint signing.
_MODULE_OF = {
    "AtomInfo": "._review_web",
    "AuditEvent": "._events",
    "AuditStore": "._store",
    "Checkpoint": "._checkpoint",
    "EventType": "._events",
    "Fact": "._facts",
    "GENESIS_HASH": "._chain",
    "NamedCheckpoint": "._checkpoint",
    "PostgresAuditStore": "._postgres",
    "Principal": "._review_auth",
    "RepAction": "._events",
    "ReviewApp": "._review_web",
    "ReviewIndex": "._review_index",
    "SQLiteAuditStore": "._sqlite",
    "SetFilters": "._review_query",
    "SetRow": "._review_index",
    "SetTimeline": "._timeline",
    "VerifyReport": "._store",
    "append_action": "._actions",
    "append_feedback": "._actions",
    "build_report": "._report",
    "canonical_json": "._chain",
    "chain_hash": "._chain",
    "dashboard_figures": "._review_query",
    "diff_ops": "._timeline",
    "edit_distance": "._actions",
    "export_checkpoint": "._export",
    "find_shown": "._actions",
    "load_exported_checkpoint": "._export",
    "load_review_tokens": "._review_auth",
    "open_audit_store": "._open",
    "report_csv": "._tables",
    "report_tables": "._tables",
    "set_timeline": "._timeline",
    "sets_csv": "._review_query",
    "signing_key": "._export",
    "sweep_forever": "._actions",
    "sweep_ignored": "._actions",
    "weekly_series": "._review_query",
}

__all__ = [
    "GENESIS_HASH",
    "AtomInfo",
    "AuditEvent",
    "AuditStore",
    "Checkpoint",
    "EventType",
    "Fact",
    "NamedCheckpoint",
    "PostgresAuditStore",
    "Principal",
    "RepAction",
    "ReviewApp",
    "ReviewIndex",
    "SQLiteAuditStore",
    "SetFilters",
    "SetRow",
    "SetTimeline",
    "VerifyReport",
    "append_action",
    "append_feedback",
    "build_report",
    "canonical_json",
    "chain_hash",
    "dashboard_figures",
    "diff_ops",
    "edit_distance",
    "export_checkpoint",
    "find_shown",
    "load_exported_checkpoint",
    "load_review_tokens",
    "open_audit_store",
    "report_csv",
    "report_tables",
    "set_timeline",
    "sets_csv",
    "signing_key",
    "sweep_forever",
    "sweep_ignored",
    "weekly_series",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'audit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
