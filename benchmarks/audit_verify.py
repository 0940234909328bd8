"""Audit verify: how fast the machine can check a large SQLite log, and how fast it does.

    python benchmarks/audit_throughput.py --skip-append --log /tmp/big.sqlite3   # build a 1M-event log once
    python benchmarks/audit_verify.py --log /tmp/big.sqlite3
    python benchmarks/audit_verify.py --log /tmp/big.sqlite3 --skip-ceiling --cold

Prints figures; asserts nothing. The ceiling part measures, on the log's own rows:
SHA-256 of each row as verify computes it (one hash per row: its per-call cost
counts), the same bytes hashed as one stream (the hashing floor), SQLite handing
the rows over with nothing done to them (with and without ``PRAGMA mmap_size``),
the whole per-row loop in one process, and that loop in one process alone and in
two at once on separate halves (what the cores give together). Each figure is
the median of ``--rounds`` interleaved runs, as CPU time per row (steadier on a
shared machine) and as wall-clock rows/s. Then ``store.verify`` with 1, 2 and
more processes: warm (the log in the OS page cache) and, with ``--cold``, after
dropping the log's pages from the cache (``posix_fadvise DONTNEED``, this file only).

The load average is printed before and after: others' processes take CPU too.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from audit import open_audit_store
from audit._parallel import RANGE_QUERY, connect_ranges, range_links

Measure = Callable[[], int]


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


QUIET = {"wait_s": 0.0, "waited": 0, "busy": 0}


def _cpu_busy(interval: float = 0.3) -> float:
    """Fraction of all cores busy over ``interval`` (from /proc/stat; 0 where there is none)."""

    def sample() -> tuple[int, int]:
        try:
            fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except OSError:
            return 0, 0
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    busy0, total0 = sample()
    time.sleep(interval)
    busy1, total1 = sample()
    return (busy1 - busy0) / max(1, total1 - total0)


def quiet() -> None:
    """With ``--quiet-wait S``: wait up to S seconds for others' processes to leave the CPUs idle."""
    if not QUIET["wait_s"]:
        return
    deadline = time.monotonic() + QUIET["wait_s"]
    while _cpu_busy() > 0.08:
        if time.monotonic() > deadline:
            QUIET["busy"] += 1
            return
    QUIET["waited"] += 1


def timed(fn: Measure) -> tuple[float, float, int]:
    quiet()
    wall, cpu = time.perf_counter(), time.process_time()
    n = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, n


def rounds(named: dict[str, Measure], count: int) -> None:
    """Run each measure ``count`` times, interleaved; print medians per row."""
    seen: dict[str, list[tuple[float, float, int]]] = {name: [] for name in named}
    for _ in range(count):
        for name, fn in named.items():
            seen[name].append(timed(fn))
    for name, runs in seen.items():
        n = runs[0][2]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        spread = f"{n / max(r[1] for r in runs):,.0f}-{n / min(r[1] for r in runs):,.0f}"
        print(
            f"  {name:48s} {cpu / n * 1e6:5.2f} us CPU/row = {n / cpu:>9,.0f} rows/CPU-s"
            f" (runs {spread}); wall {n / wall:>9,.0f} rows/s"
        )


def ceiling(path: Path, first: int, rows: int, count: int) -> None:
    uri = f"file:{path}?mode=ro"
    last = first + rows - 1
    conn = sqlite3.connect(uri, uri=True)
    prev_hash = str(conn.execute("SELECT hash FROM audit_events WHERE seq = ?", (first - 1,)).fetchone()[0])
    data = conn.execute(RANGE_QUERY, (first, last)).fetchall()
    conn.close()
    prevs = [prev_hash.encode()] + [digest.encode() for _, digest in data[:-1]]
    bodies = [body for body, _ in data]
    hashed = sum(map(len, bodies)) + 64 * len(bodies)
    print(f"rows {first:,}..{last:,}: {hashed / len(bodies):,.0f} bytes hashed per row on average")
    sha256 = hashlib.sha256

    def per_row() -> int:
        for prev, body in zip(prevs, bodies, strict=True):
            sha256(prev + body).hexdigest()
        return len(bodies)

    def per_row_update() -> int:
        for prev, body in zip(prevs, bodies, strict=True):
            h = sha256(prev)
            h.update(body)
            h.hexdigest()
        return len(bodies)

    def stream() -> int:
        h = sha256()
        for prev, body in zip(prevs, bodies, strict=True):
            h.update(prev)
            h.update(body)
        h.hexdigest()
        return len(bodies)

    def read(mmap: bool) -> Measure:
        def run() -> int:
            conn = connect_ranges(uri) if mmap else sqlite3.connect(uri, uri=True)
            n = sum(1 for _ in conn.execute(RANGE_QUERY, (first, last)))
            conn.close()
            return n

        return run

    def loop(mmap: bool) -> Measure:
        def run() -> int:
            conn = connect_ranges(uri) if mmap else sqlite3.connect(uri, uri=True)
            assert range_links(conn, first, last, prev_hash)
            conn.close()
            return rows

        return run

    print(f"ceiling, one process ({count} rounds, median) [{load()}]")
    rounds(
        {
            "sha256(prev + body).hexdigest(), rows in memory": per_row,
            "h = sha256(prev); h.update(body); hexdigest": per_row_update,
            "the same bytes as one stream (hashing floor)": stream,
            "SQLite read only, no mmap": read(False),
            "SQLite read only, mmap": read(True),
            "range_links (read + hash + compare), no mmap": loop(False),
            "range_links (read + hash + compare), mmap": loop(True),
        },
        count,
    )


_TWIN = """
import hashlib, sys, time
sys.path.insert(0, sys.argv[5])
from audit._parallel import RANGE_QUERY, connect_ranges, range_links
what, first, last, uri = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
conn = connect_ranges(uri)
prev = conn.execute("SELECT hash FROM audit_events WHERE seq = ?", (first - 1,)).fetchone()[0]
if what == "hash":
    rows = conn.execute(RANGE_QUERY, (first, last)).fetchall()
    msgs = [h.encode() + b for (b, _), h in zip(rows, [prev] + [h for _, h in rows[:-1]])]
sys.stdout.write("ready\\n")
sys.stdout.flush()
sys.stdin.readline()  # all start together
wall, cpu = time.perf_counter(), time.process_time()
if what == "hash":
    sha256 = hashlib.sha256
    for m in msgs:
        sha256(m).hexdigest()
elif what == "read":
    for _ in conn.execute(RANGE_QUERY, (first, last)):
        pass
else:
    assert range_links(conn, first, last, prev)
print(time.perf_counter() - wall, time.process_time() - cpu)
"""


def together(path: Path, first: int, rows: int, count: int) -> None:
    """Each part of the loop in one process alone, then in two at once on separate ranges."""
    uri = f"file:{path}?mode=ro"
    root = str(Path(__file__).resolve().parent.parent)
    print(f"the two cores together: {rows:,} rows per process ({count} rounds) [{load()}]")
    for what in ("hash", "read", "loop"):
        for procs in (1, 2):
            rates, cpus = [], []
            for _ in range(count):
                starts = [first + i * rows for i in range(procs)]
                args = [
                    [sys.executable, "-c", _TWIN, what, str(a), str(a + rows - 1), uri, root] for a in starts
                ]
                pipe = subprocess.PIPE
                running = [subprocess.Popen(a, stdin=pipe, stdout=pipe, text=True) for a in args]
                for p in running:
                    assert p.stdout is not None and p.stdout.readline() == "ready\n"
                quiet()
                outs = [[float(x) for x in p.communicate("go\n")[0].split()] for p in running]
                rates.append(rows * procs / max(wall for wall, _ in outs))  # done when the slowest is
                cpus.extend(rows / cpu for _, cpu in outs)
            print(
                f"  {what:4s} ({_PARTS[what]}), {procs} process(es) at once:"
                f" {statistics.median(rates):>9,.0f} rows/s together"
                f" (runs {min(rates):,.0f}-{max(rates):,.0f});"
                f" each {statistics.median(cpus):,.0f} rows/CPU-s"
            )


_PARTS = {"hash": "sha256 per row, in memory", "read": "SQLite read, mmap", "loop": "range_links"}


def drop_cache(path: Path) -> None:
    """Drop this log's pages from the OS page cache (clean pages: nothing is lost)."""
    for part in path.parent.glob(path.name + "*"):
        fd = os.open(part, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def cpu_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def bench_verify(path: Path, workers: list[int], count: int, cold: bool) -> None:
    with open_audit_store(path, read_only=True) as store:
        for cache in ("cold", "warm") if cold else ("warm",):
            print(f"store.verify, page cache {cache} ({count} runs each, median) [{load()}]")
            for n in workers:
                walls, cpus = [], []
                for _ in range(count):
                    quiet()
                    if cache == "cold":
                        drop_cache(path)
                    cpu, started = cpu_seconds(), time.perf_counter()
                    report = store.verify(workers=n)
                    walls.append(time.perf_counter() - started)
                    cpus.append(cpu_seconds() - cpu)
                    assert report.ok, report
                rows = report.rows_checked
                wall = statistics.median(walls)
                print(
                    f"  {n} process(es): {wall:.2f} s, {rows / wall:>9,.0f} rows/s"
                    f" (runs {rows / max(walls):,.0f}-{rows / min(walls):,.0f});"
                    f" {statistics.median(cpus):.2f} CPU-s in all processes"
                )


def startup(path: Path) -> None:
    """From starting a worker to its answer on a one-row range."""
    script = Path(__file__).resolve().parent.parent / "audit" / "_parallel.py"
    uri = f"file:{path}?mode=ro"
    times = []
    for _ in range(10):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-I", "-S", str(script), uri],
            input=f"1 1 {'0' * 64}\n".encode(),
            capture_output=True,
        )
        times.append(time.perf_counter() - started)
        assert done.stdout == b"1", done
    print(f"worker start-up to first answer: {statistics.median(times) * 1000:.0f} ms (median of 10)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--log", type=Path, required=True, help="a large log (see audit_throughput.py --log)")
    parser.add_argument("--rows", type=int, default=200_000, help="rows per ceiling measurement")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", default="1,2,4", help="process counts for store.verify")
    parser.add_argument(
        "--quiet-wait", type=float, default=0, help="wait up to this many s before each run for idle CPUs"
    )
    parser.add_argument("--skip-ceiling", action="store_true")
    parser.add_argument("--skip-verify", action="store_true")
    parser.add_argument(
        "--cold", action="store_true", help="also verify with the log's pages dropped from the cache"
    )
    args = parser.parse_args()
    path = args.log.resolve()
    QUIET["wait_s"] = args.quiet_wait
    with open_audit_store(path, read_only=True) as store:
        print(f"{path}: {store.count():,} events, {path.stat().st_size / 2**20:,.0f} MB")
    if not args.skip_ceiling:
        ceiling(path, 100_001, args.rows, args.rounds)
        together(path, 100_001, args.rows, args.rounds)
        startup(path)
    if not args.skip_verify:
        bench_verify(path, [int(n) for n in args.workers.split(",")], args.rounds, args.cold)
    if args.quiet_wait:
        print(f"runs started on idle CPUs: {QUIET['waited']}; started busy after waiting: {QUIET['busy']}")
    print(f"done [{load()}]")


if __name__ == "__main__":
    main()
