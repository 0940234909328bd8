"""Check a large SQLite log's rows in parallel: many seq ranges, handed out to processes.

Each row's hash depends only on its own body and the stored hash of the row
before it, so ranges can be checked independently: a range starting at seq
``a`` takes the stored hash of row ``a - 1`` as its previous hash. A range
reports only whether every row is there and linked; when one is not, the caller
re-runs the sequential walk to name the first bad row and the kind of damage.

The log is cut into many more ranges than processes and they are handed out as
processes finish theirs, so a process that gets less CPU (the machine is shared)
checks fewer ranges instead of holding up the end. The workers are bare
interpreters running this file (``python -I -S _parallel.py URI``, standard
library only: ~30 ms to start, where a multiprocessing worker would import this
package, pydantic and all). A worker reads ranges on stdin, one line each
(``first last prev_hash``), and answers one byte per range: ``1`` linked, ``0``
not. This process checks ranges too, and between two of its own tops up each
worker's queue (``AHEAD`` ranges beyond the one it is on, so none waits).

Where the time goes (benchmarks/audit_verify.py, 1M events, ~950 bytes hashed per
row, 2 shared cores): SHA-256 of a row costs 1.4-1.9 us of CPU with its per-call
overhead (the bytes alone 1.0 us), SQLite handing the row over 1.1-1.5 us, the whole
loop 2.4-3.9 us: 260-410k rows/s per core, twice that on two (measured: two processes
scale 2.0x). ``PRAGMA mmap_size`` was within this machine's noise; kept, as it spares
SQLite a copy of every page.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import sys
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess

__all__ = [
    "PARALLEL_MIN_ROWS",
    "RANGE_QUERY",
    "connect_ranges",
    "range_links",
    "ranges_link",
    "read_ahead",
    "split",
]

PARALLEL_MIN_ROWS = 50_000
"""Below this a single walk is about as fast as starting worker processes."""

RANGE_QUERY = "SELECT CAST(body AS BLOB), hash FROM audit_events WHERE seq BETWEEN ? AND ? ORDER BY seq"
"""The body as the UTF-8 bytes that were hashed (no decoding to text and back). No
``seq`` column: seq is the integer primary key, so ``last - first + 1`` rows in the
range are exactly the rows ``first..last``, in order."""

MMAP_BYTES = 1 << 40
"""Map the whole file (SQLite caps this at its compile-time limit, 2 GB by default)."""

READ_AHEAD = True
"""Before the workers start, ask the OS to read the whole file into its page cache."""

RANGES_PER_WORKER = 16
MIN_RANGE_ROWS = 10_000
AHEAD = 2

Task = tuple[int, int, str]
_HASH_AT = "SELECT hash FROM audit_events WHERE seq = ?"


def connect_ranges(uri: str) -> sqlite3.Connection:
    """A read-only connection for ``range_links``, the file memory-mapped."""
    conn = sqlite3.connect(uri, uri=True)
    conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    return conn


def range_links(conn: sqlite3.Connection, first: int, last: int, prev_hash: str) -> bool:
    """Whether rows ``first..last`` are all there and each links to the one before."""
    sha256 = hashlib.sha256
    prev = prev_hash.encode()
    linked = 0
    for body, digest in conn.execute(RANGE_QUERY, (first, last)):
        if sha256(prev + body).hexdigest() != digest:
            return False
        prev = digest.encode()
        linked += 1
    return linked == last - first + 1


def split(
    first: int,
    last: int,
    workers: int,
    *,
    per_worker: int = RANGES_PER_WORKER,
    min_rows: int = MIN_RANGE_ROWS,
) -> list[tuple[int, int]]:
    """``first..last`` as consecutive ranges, ``per_worker`` per worker, none below ``min_rows``."""
    total = last - first + 1
    count = max(1, min(workers * per_worker, total // min_rows))
    size = -(-total // count)
    return [(a, min(a + size - 1, last)) for a in range(first, last + 1, size)]


def ranges_link(
    path: str, first: int, last: int, start_hash: str, workers: int, *, range_rows: int = MIN_RANGE_ROWS
) -> bool:
    """Whether rows ``first..last`` of the SQLite log at ``path`` all link, checked by this
    process and ``workers - 1`` others in ranges of at least ``range_rows`` rows. Raises
    OSError when a worker cannot run."""
    import subprocess
    from urllib.parse import quote

    uri = f"file:{quote(path)}?mode=ro"
    if READ_AHEAD and workers > 1:
        read_ahead(path)
    conn = connect_ranges(uri)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        tasks: list[Task] = []
        for a, b in split(first, last, workers, min_rows=range_rows):
            row = (start_hash,) if a == first else conn.execute(_HASH_AT, (a - 1,)).fetchone()
            if row is None:
                return False  # a row is missing: the ordered walk names it
            tasks.append((a, b, str(row[0])))
        tasks.reverse()  # pop() hands out the oldest first
        for _ in range(min(workers - 1, len(tasks) - 1)):
            command = [sys.executable, "-I", "-S", __file__, uri]
            pipe = subprocess.PIPE
            procs.append(subprocess.Popen(command, stdin=pipe, stdout=pipe, stderr=pipe))
        linked = _Dispatch(conn, tasks, procs).run()
        if linked:
            for proc in procs:
                proc.wait()
        return linked
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):  # stdin: ranges a dead worker never read
                        stream.close()
        conn.close()


def read_ahead(path: str) -> None:
    """Ask the kernel to read ``path`` into the page cache, in the background, in one
    sequential sweep (a cold log is read that way faster than by processes faulting its
    pages in from several places at once); only when it fits in half the free memory."""
    if not hasattr(os, "posix_fadvise"):
        return
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        if os.path.getsize(path) > free // 2:
            return
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        finally:
            os.close(fd)
    except (OSError, ValueError):
        return


class _Dispatch:
    """Hand ``tasks`` out to the worker processes; check one here whenever none is ready."""

    def __init__(self, conn: sqlite3.Connection, tasks: list[Task], procs: list[subprocess.Popen[bytes]]):
        self.conn, self.tasks = conn, tasks
        self.out: dict[int, subprocess.Popen[bytes]] = {_pipe(p.stdout).fileno(): p for p in procs}
        self.pending = dict.fromkeys(self.out, 0)

    def run(self) -> bool:
        import select

        for fd in self.out:
            self._give(fd, 1 + AHEAD)
        while self.tasks or any(self.pending.values()):
            busy = [fd for fd, n in self.pending.items() if n]
            ready = select.select(busy, [], [], 0 if self.tasks else None)[0] if busy else []
            for fd in ready:
                answers = os.read(fd, 64)
                if not answers:
                    error = _pipe(self.out[fd].stderr).read().decode(errors="replace").strip()
                    raise OSError(f"a verify worker failed: {error[-300:]}")
                if answers.strip(b"1"):
                    return False  # a range did not link
                self.pending[fd] -= len(answers)
                self._give(fd, len(answers))
            if self.tasks:
                mine = self.tasks.pop()
                self._close_if_done()
                if not range_links(self.conn, *mine):
                    return False
        return True

    def _give(self, fd: int, n: int) -> None:
        given = [self.tasks.pop() for _ in range(min(n, len(self.tasks)))]
        if given:
            stdin = _pipe(self.out[fd].stdin)
            stdin.write("".join(f"{a} {b} {prev}\n" for a, b, prev in given).encode())
            stdin.flush()
            self.pending[fd] += len(given)
            self._close_if_done()

    def _close_if_done(self) -> None:
        if not self.tasks:
            for proc in self.out.values():  # no more work: each worker exits after its queue
                _pipe(proc.stdin).close()


def _pipe(stream: IO[bytes] | None) -> IO[bytes]:
    assert stream is not None
    return stream


def _serve(uri: str) -> None:
    """A worker: check each range named on stdin, answer ``1`` or ``0`` on stdout."""
    conn = connect_ranges(uri)
    for line in iter(sys.stdin.buffer.readline, b""):
        first, last, prev = line.split()
        os.write(1, b"1" if range_links(conn, int(first), int(last), prev.decode()) else b"0")


if __name__ == "__main__":
    _serve(sys.argv[1])
