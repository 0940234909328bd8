"""Reports over a SQL store: its facts as a stream that can be summed up in the database.

``build_report(store.facts())`` asks the stream for ``summary``: three GROUP BY
queries over ``audit_facts`` (sets by breakdown and final action, latencies,
feedback) instead of a million ``Fact`` objects in Python.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ._facts import Fact
from ._report import Summary

if TYPE_CHECKING:
    from ._sql import SqlAuditStore

__all__ = ["FactStream", "summary_in_database"]

logger = logging.getLogger("copilot.audit")


class FactStream(Iterator[Fact]):
    """``facts()``: the facts rows, read on first use; ``build_report`` asks its ``summary``."""

    def __init__(self, store: SqlAuditStore, since: str) -> None:
        self._store, self._since = store, since
        self._rows: Iterator[tuple[Any, ...]] | None = None

    def __next__(self) -> Fact:
        if self._rows is None:
            self._rows = iter(self._store._fact_rows(self._since))
        return Fact(*next(self._rows))

    def summary(self, start: str, end: str, reps: set[str] | None) -> Summary | None:
        """None when the database cannot (a read-only log from before m005): add up in Python."""
        try:
            return self._store._summary(max(start, self._since), end, reps)
        except self._store._db_error as exc:
            logger.info("audit report added up in Python: %s", exc)
            return None


def summary_in_database(
    conn: Any, store: SqlAuditStore, start: str, end: str, reps: set[str] | None
) -> Summary:
    """``Summary`` of the sets shown in [start, end) to ``reps`` (``store`` gives the dialect)."""
    if reps is not None and not reps:
        return Summary([], [], [])

    def where(alias: str) -> tuple[str, list[Any]]:
        column = f"{alias}type" if alias else store._type_scan
        terms, params = [f"{column} = 'suggestion_shown'"], list[Any]()
        if start:
            terms.append(f"{alias}at >= ?")
            params.append(start)
        if end:
            terms.append(f"{alias}at < ?")
            params.append(end)
        if reps is not None:
            terms.append(f"{alias}actor IN ({', '.join('?' * len(reps))})")
            params += sorted(reps)
        return " AND ".join(terms), params

    dims = ("actor", "engine", "prompts", "competitor", "missing_roles")
    shown, params = where("")
    latency_query = (
        f"SELECT latency_ms, count(*) FROM audit_facts WHERE {shown} AND latency_ms IS NOT NULL"
        " GROUP BY latency_ms"
    )
    of_set, set_params = where("s.")
    s_dims = ", ".join(f"s.{d}" for d in dims)
    feedback_query = (
        f"SELECT {s_dims}, f.atom_id, f.helpful, count(*) FROM audit_facts f JOIN audit_facts s"
        f" ON s.set_id = f.set_id AND s.seq < f.seq WHERE f.type = 'feedback' AND {of_set}"
        f" GROUP BY {s_dims}, f.atom_id, f.helpful"
    )
    sets = store._set_groups(conn, shown, params)
    latencies = conn.execute(store._q(latency_query), params).fetchall()
    feedback = conn.execute(store._q(feedback_query), set_params).fetchall()
    return Summary(sets, [tuple(r) for r in latencies], [tuple(r) for r in feedback])
