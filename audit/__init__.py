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
from ._review_auth import Principal, load_review_tokens
from ._review_index import ReviewIndex, SetRow
from ._review_query import SetFilters, dashboard_figures, sets_csv, weekly_series
from ._sqlite import SQLiteAuditStore
from ._store import AuditStore, VerifyReport
from ._tables import report_csv, report_tables
from ._timeline import SetTimeline, diff_ops, set_timeline

if TYPE_CHECKING:
    from ._postgres import PostgresAuditStore
    from ._review_web import AtomInfo, ReviewApp

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
    if name == "PostgresAuditStore":  # imported on use: psycopg stays out of SQLite-only processes
        from ._postgres import PostgresAuditStore

        return PostgresAuditStore
    if name in ("ReviewApp", "AtomInfo"):  # imported on use: starlette and jinja2 only when serving
        from . import _review_web

        return getattr(_review_web, name)
    raise AttributeError(f"module 'audit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
