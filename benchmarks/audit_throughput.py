"""Audit log throughput: append (SQLite, PostgreSQL; 1 and 4 writer processes, in batches
and one event at a time; concurrent presses in one process, which group-commit), verify
and report on a large log. Prints figures; asserts nothing.

    python benchmarks/audit_throughput.py                      # SQLite only, 1,000,000-event log
    python benchmarks/audit_throughput.py --pg postgresql://postgres@127.0.0.1:5432/postgres
    python benchmarks/audit_throughput.py --events 200000      # smaller log for verify/report
    python benchmarks/audit_throughput.py --log /tmp/big.sqlite3 --skip-append   # reuse a log

Bytes per event on disk: benchmarks/audit_size.py.

Events are realistic in shape: per suggestion set one ``suggestion_shown`` (three
cited suggestions, a decision chain, ~1.5 KB), and most get a ``rep_action``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from audit import AuditEvent, build_report, open_audit_store

ACTIONS = ["sent_as_is", "edited", "dismissed", "wrote_own", "sent_as_is", "sent_as_is", None]


def shown(n: int, at: datetime) -> AuditEvent:
    suggestions = [
        {
            "text": f"理解您的预算压力，按三年总拥有成本看方案 {n} 更省。",
            "citations": [f"atom-{(n + i) % 50}"],
            "legal_basis": [],
        }
        for i in range(3)
    ]
    return AuditEvent(
        type="suggestion_shown",
        at=at,
        actor=f"U{n % 40}",
        conversation_id=f"slack:C{n % 500}",
        suggestion_set_id=f"ss-{n:011x}",  # the engine's set ids grow with time too
        input={"messages": [{"from": "c-7", "text": "价格比预算高不少，另外极光数仓报价更低。"}]},
        output={
            "suggestions": suggestions,
            "competitor": {"name": "极光数仓"} if n % 5 == 0 else None,
            "decision_chain": {"missing_roles": ["cfo"] if n % 3 else []},
            "fallback": {"reason": "timeout"} if n % 50 == 0 else None,
        },
        engine="grounded",
        prompt_versions={"decision_chain": "1"},
        atoms={f"atom-{(n + i) % 50}": 1 for i in range(3)},
        latency_ms=float(8 + n % 40),
    )


def action(n: int, at: datetime) -> AuditEvent | None:
    kind = ACTIONS[n % len(ACTIONS)]
    if kind is None:
        return None
    text = None if kind == "dismissed" else "理解您的预算压力，我们按三年总成本算一版。"
    return AuditEvent(
        type="rep_action",
        at=at,
        actor=f"U{n % 40}",
        suggestion_set_id=f"ss-{n:011x}",  # the engine's set ids grow with time too
        action=kind,  # type: ignore[arg-type]
        suggestion_index=None if kind in ("dismissed", "wrote_own") else 0,
        final_text=text,
        edit_distance=None if text is None else n % 12,
    )


def events_for(start: int, count: int) -> list[AuditEvent]:
    base = datetime(2026, 9, 1, tzinfo=UTC)
    out: list[AuditEvent] = []
    n = start
    while len(out) < count:
        at = base + timedelta(seconds=n)
        out.append(shown(n, at))
        follow = action(n, at + timedelta(seconds=30))
        if follow is not None and len(out) < count:
            out.append(follow)
        n += 1
    return out


def _unique(events: list[AuditEvent]) -> list[AuditEvent]:
    tag = uuid.uuid4().hex[:9]
    return [e.model_copy(update={"suggestion_set_id": f"{e.suggestion_set_id}{tag}"}) for e in events]


def _append_worker(target: str, home: str, count: int, batch: int, barrier: Any) -> float:
    events = _unique(events_for(0, count))
    with open_audit_store(target, home=home) as store:
        barrier.wait()
        started = time.perf_counter()
        for i in range(0, count, batch):
            store.append(events[i : i + batch])
        return time.perf_counter() - started


def bench_append(target: str, home: str, writers: int, count: int, batch: int) -> float:
    """Events/s with ``writers`` processes, each appending ``count`` events in batches."""
    with open_audit_store(target, home=home):
        pass  # migrate once
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Manager().Barrier(writers)
    with ctx.Pool(writers) as pool:  # each worker times its appends from the shared barrier on
        elapsed = pool.starmap(_append_worker, [(target, home, count, batch, barrier)] * writers)
    return writers * count / max(elapsed)


def bench_presses(
    target: str, home: str, threads: int, per_thread: int, batch: int = 1
) -> tuple[float, float, float]:
    """Concurrent appends of ``batch`` events on one store (group commit): events/s, p50 and
    p99 ms per append."""
    latencies: list[float] = []
    lock = threading.Lock()
    with open_audit_store(target, home=home) as store:
        events = _unique(events_for(0, threads * per_thread))

        def press(offset: int) -> None:
            mine: list[float] = []
            for i in range(0, per_thread, batch):
                t0 = time.perf_counter()
                store.append(events[offset + i : offset + min(i + batch, per_thread)])
                mine.append((time.perf_counter() - t0) * 1000)
            with lock:
                latencies.extend(mine)

        workers = [threading.Thread(target=press, args=(t * per_thread,)) for t in range(threads)]
        started = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    return threads * per_thread / elapsed, statistics.median(latencies), p99


def build_log(path: Path, total: int) -> None:
    with open_audit_store(path) as store:
        have = store.count()
        step = 5000
        for start in range(have, total, step):
            store.append(events_for(start, min(step, total - start)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="size of the log for verify/report")
    parser.add_argument("--append", type=int, default=20_000, help="events per writer in the append runs")
    parser.add_argument("--single", type=int, default=2_000, help="events per writer appended one at a time")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--pg", default=None, help="PostgreSQL server URL (a scratch database is created)")
    parser.add_argument("--log", type=Path, default=None, help="keep the big log here (built or extended)")
    parser.add_argument("--skip-append", action="store_true", help="only verify and report")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        if not args.skip_append:
            bench_sqlite_appends(args, tmp)
            if args.pg:
                bench_postgres(args, tmp)
        path = args.log or home / "big.sqlite3"
        started = time.perf_counter()
        with open_audit_store(path) as store:  # migrates an older log first
            had = store.count()
            print(f"opened (and migrated) a {had:,}-event log in {time.perf_counter() - started:.1f} s")
        if had < args.events:
            started = time.perf_counter()
            build_log(path, args.events)
            print(f"appended {args.events - had:,} events in {time.perf_counter() - started:.1f} s")
        size_mb = sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20
        print(f"log of {max(had, args.events):,} events: {size_mb:,.0f} MB")
        with open_audit_store(path, read_only=True) as store:
            for workers in (1, None):
                started = time.perf_counter()
                report = store.verify(workers=workers)  # type: ignore[call-arg]
                elapsed = time.perf_counter() - started
                rate = report.rows_checked / elapsed
                print(
                    f"verify {report.rows_checked:,} rows, {workers or os.cpu_count()} process(es):"
                    f" {elapsed:.2f} s, {rate:,.0f} rows/s (ok={report.ok})"
                )
            for _ in range(2):
                started = time.perf_counter()
                data = build_report(store.facts())
                elapsed = time.perf_counter() - started
                print(
                    f"report on {store.count():,} events ({data['totals']['shown']:,} sets): {elapsed:.2f} s"
                )


def bench_sqlite_appends(args: argparse.Namespace, tmp: str) -> None:
    home = Path(tmp)
    for writers in (1, 4):
        for batch, count in ((args.batch, args.append), (1, args.single)):
            db = str(home / f"append-{writers}-{batch}.sqlite3")
            rate = bench_append(db, tmp, writers, count, batch)
            print(f"sqlite append, {writers} writer process(es), batches of {batch}: {rate:,.0f} events/s")
    for threads, per_thread, batch in ((4, args.append // 2, args.batch), (32, 300, 1)):
        db = str(home / f"presses-{threads}-{batch}.sqlite3")
        rate, p50, p99 = bench_presses(db, tmp, threads, per_thread, batch)
        print(
            f"sqlite group commit, {threads} threads in one process appending batches of {batch}:"
            f" {rate:,.0f} events/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms per append"
        )


def bench_postgres(args: argparse.Namespace, tmp: str) -> None:
    import psycopg

    runs = [(w, args.batch, args.append // 2) for w in (1, 4)] + [(w, 1, args.single) for w in (1, 4)]
    runs += [(0, args.batch, args.append // 2)]  # 0: 4 threads in one process (group commit)
    for writers, batch, count in runs:
        name = f"copilot_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.pg, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = args.pg.rsplit("/", 1)[0] + f"/{name}"
        try:
            if writers:
                rate = bench_append(url, tmp, writers, count, batch)
                what = f"{writers} writer process(es)"
            else:
                rate, _, _ = bench_presses(url, tmp, 4, count, batch)
                what = "4 threads in one process (group commit)"
            print(f"postgres append, {what}, batches of {batch}: {rate:,.0f} events/s")
        finally:
            with psycopg.connect(args.pg, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
