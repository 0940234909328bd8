"""Check a large SQLite log's rows in parallel, one seq range per process.

Each row's hash depends only on its own body and the stored hash of the row
before it, so ranges can be checked independently: a range starting at seq
``a`` takes the stored hash of row ``a - 1`` as its previous hash. A range
reports only whether every row linked; when one did not, the caller re-runs
the sequential walk to name the first bad row and the kind of damage.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from urllib.parse import quote

__all__ = ["PARALLEL_MIN_ROWS", "ranges_link"]

PARALLEL_MIN_ROWS = 200_000
"""Below this a single walk is faster than starting worker processes."""


def _range_links(uri: str, first: int, last: int, prev_hash: str) -> bool:
    conn = sqlite3.connect(uri, uri=True)
    try:
        expected = first
        query = "SELECT seq, body, hash FROM audit_events WHERE seq BETWEEN ? AND ? ORDER BY seq"
        for seq, body, digest in conn.execute(query, (first, last)):
            if seq != expected or hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest() != digest:
                return False
            prev_hash, expected = digest, expected + 1
        return expected == last + 1
    finally:
        conn.close()


def ranges_link(path: str, first: int, last: int, start_hash: str, workers: int) -> bool:
    """Whether rows ``first..last`` of the SQLite log at ``path`` all link (``workers`` processes)."""
    uri = f"file:{quote(path)}?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    try:
        size = -(-(last - first + 1) // workers)
        bounds = [(a, min(a + size - 1, last)) for a in range(first, last + 1, size)]
        starts: list[str] = [start_hash]
        for a, _ in bounds[1:]:
            row = conn.execute("SELECT hash FROM audit_events WHERE seq = ?", (a - 1,)).fetchone()
            if row is None:
                return False
            starts.append(str(row[0]))
    finally:
        conn.close()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(bounds), mp_context=context) as pool:
        futures = [pool.submit(_range_links, uri, a, b, h) for (a, b), h in zip(bounds, starts, strict=True)]
        return all(f.result() for f in futures)
