"""Check a large SQLite log's rows in parallel, one seq range per process.

Each row's hash depends only on its own body and the stored hash of the row
before it, so ranges can be checked independently: a range starting at seq
``a`` takes the stored hash of row ``a - 1`` as its previous hash. A range
reports only whether every row linked; when one did not, the caller re-runs
the sequential walk to name the first bad row and the kind of damage.

The workers are bare interpreters (``python -I -c``) running ``_WORKER``, which
needs only ``sqlite3`` and ``hashlib``: starting one takes milliseconds, where a
multiprocessing worker would import this package (pydantic and all) first. This
process checks the first range itself meanwhile.
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from urllib.parse import quote

__all__ = ["PARALLEL_MIN_ROWS", "RANGE_QUERY", "range_links", "ranges_link"]

PARALLEL_MIN_ROWS = 50_000
"""Below this a single walk is about as fast as starting worker processes."""

RANGE_QUERY = "SELECT seq, CAST(body AS BLOB), hash FROM audit_events WHERE seq BETWEEN ? AND ? ORDER BY seq"
"""The body as the UTF-8 bytes that were hashed (no decoding to text and back)."""


def range_links(conn: sqlite3.Connection, first: int, last: int, prev_hash: str) -> bool:
    """Whether rows ``first..last`` are all there and each links to the one before."""
    sha256 = hashlib.sha256
    expected = first
    prev = prev_hash.encode()
    for seq, body, digest in conn.execute(RANGE_QUERY, (first, last)):
        if seq != expected or sha256(prev + body).hexdigest() != digest:
            return False
        prev, expected = digest.encode(), expected + 1
    return expected == last + 1


# The same loop as ``range_links``, for a bare interpreter: argv = uri first last prev_hash.
_WORKER = f"""
import hashlib, sqlite3, sys
uri, first, last, prev = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].encode()
conn = sqlite3.connect(uri, uri=True)
sha256, expected = hashlib.sha256, first
for seq, body, digest in conn.execute({RANGE_QUERY!r}, (first, last)):
    if seq != expected or sha256(prev + body).hexdigest() != digest:
        print("broken")
        sys.exit(0)
    prev, expected = digest.encode(), expected + 1
print("ok" if expected == last + 1 else "broken")
"""


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
        procs = [
            subprocess.Popen(
                [sys.executable, "-I", "-c", _WORKER, uri, str(a), str(b), h],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for (a, b), h in zip(bounds[1:], starts[1:], strict=True)
        ]
        try:
            mine = range_links(conn, bounds[0][0], bounds[0][1], starts[0])
        finally:
            results = [p.communicate() for p in procs]
        failed = [err.strip() for p, (_, err) in zip(procs, results, strict=True) if p.returncode != 0]
        if failed:
            raise OSError(f"a verify worker failed: {failed[0][-300:]}")
        return mine and all(out.strip() == "ok" for out, _ in results)
    finally:
        conn.close()
