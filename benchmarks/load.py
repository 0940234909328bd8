"""Suggest under load, as a server facing a sales floor sees it.

    python benchmarks/load.py                       # 10,000 atoms, quiet machine
    python benchmarks/load.py --atoms 100000 --home /tmp/kb100k   # keep the KB for reruns
    python benchmarks/load.py --busy                # another process keeps every core busy

One engine in one process, as one `copilot serve` worker runs it. Prints, per
scenario, p50/p95/p99 latency (from each press's arrival to its result) and the
throughput reached:

* open-loop arrivals (Poisson) at 5, 20 and 40 presses/s for ``--seconds`` each;
* bursts of 20 and 50 presses at once: when the first and the last finish, and
  how closely completion follows arrival order;
* saturation: as many presses in flight as ``--saturate`` allows, for the
  throughput ceiling;
* presses refused as busy (the engine's backpressure), if any.

Prints figures; asserts nothing. The machine's load average is printed with them.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import itertools

from suggest_latency import generated

from audit import open_audit_store
from copilot import Conversation, Copilot, Settings
from copilot._cli_common import load_conversation
from copilot.errors import CopilotError
from knowledge import BilingualEmbedding, ChromaAtomStore, ingest_atoms, load_atoms

ROOT = Path(__file__).resolve().parent.parent


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def line(label: str, latencies: list[float], elapsed: float, refused: int = 0) -> None:
    rate = len(latencies) / elapsed if elapsed else 0.0
    p50, p95, p99 = (pct(latencies, q) for q in (0.5, 0.95, 0.99))
    busy = f"  busy {refused}" if refused else ""
    print(
        f"  {label:<22} n={len(latencies):4d}  p50 {p50:7.1f}  p95 {p95:7.1f}  p99 {p99:7.1f} ms"
        f"   {rate:6.1f} presses/s{busy}"
    )


async def press(copilot: Copilot, conversation: Conversation, arrived: float) -> float | None:
    try:
        await copilot.suggest(conversation)
    except CopilotError as exc:  # backpressure: "busy, retry"
        if "busy" in str(exc).lower():
            return None
        raise
    return (time.perf_counter() - arrived) * 1000


async def open_loop(copilot: Copilot, convs: list[Conversation], rate: float, seconds: float) -> None:
    rng = random.Random(int(rate))
    tasks, started, at = [], time.perf_counter(), 0.0
    while at < seconds:
        at += rng.expovariate(rate)
        delay = started + at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        arrived = time.perf_counter()
        tasks.append(asyncio.create_task(press(copilot, rng.choice(convs), arrived)))
    results = await asyncio.gather(*tasks)
    done = [r for r in results if r is not None]
    line(f"open loop {rate:g}/s", done, time.perf_counter() - started, len(results) - len(done))


async def burst(copilot: Copilot, convs: list[Conversation], size: int) -> None:
    finished: list[tuple[int, float]] = []
    started = time.perf_counter()

    async def one(i: int) -> None:
        took = await press(copilot, convs[i % len(convs)], started)
        if took is not None:
            finished.append((i, took))

    await asyncio.gather(*(one(i) for i in range(size)))
    lat = [t for _, t in finished]
    order = [i for i, _ in finished]
    in_order = sum(1 for a, b in itertools.pairwise(order) if a < b) / max(1, len(order) - 1)
    line(f"burst of {size}", lat, time.perf_counter() - started, size - len(finished))
    first, last = min(lat), max(lat)
    print(f"    first done {first:.1f} ms, last {last:.1f} ms, {in_order:.0%} finished in arrival order")


async def saturate(copilot: Copilot, convs: list[Conversation], inflight: int, seconds: float) -> None:
    latencies: list[float] = []
    stop = time.perf_counter() + seconds
    started = time.perf_counter()

    async def worker(k: int) -> None:
        i = k
        while time.perf_counter() < stop:
            took = await press(copilot, convs[i % len(convs)], time.perf_counter())
            if took is None:
                await asyncio.sleep(0.005)
            else:
                latencies.append(took)
            i += inflight

    await asyncio.gather(*(worker(k) for k in range(inflight)))
    line(f"saturation ({inflight} in flight)", latencies, time.perf_counter() - started)


def _spin(stop_at: float) -> None:
    x = 0
    while time.time() < stop_at:
        x += 1


def busy_machine(seconds: float) -> list[multiprocessing.Process]:
    """One spinning process per core, as another tenant on a shared machine."""
    procs = [
        multiprocessing.Process(target=_spin, args=(time.time() + seconds,), daemon=True)
        for _ in range(os.cpu_count() or 2)
    ]
    for p in procs:
        p.start()
    return procs


async def scenarios(copilot: Copilot, convs: list[Conversation], args: argparse.Namespace) -> None:
    copilot.warm_up()
    for conversation in convs:  # warm every code path once
        await copilot.suggest(conversation)
    quiet: list[float] = []
    for conversation in convs * 2:
        arrived = time.perf_counter()
        took = await press(copilot, conversation, arrived)
        if took is not None:
            quiet.append(took)
    line("one at a time", quiet, sum(quiet) / 1000)
    for rate in args.rates:
        await open_loop(copilot, convs, rate, args.seconds)
    for size in (20, 50):
        await burst(copilot, convs, size)
    await saturate(copilot, convs, args.saturate, args.seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--atoms", type=int, default=10_000, help="generated atoms besides the sample KB")
    parser.add_argument("--home", type=Path, default=None, help="keep the KB here (reused when present)")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each open-loop run")
    parser.add_argument("--rates", type=float, nargs="+", default=[5, 20, 40])
    parser.add_argument("--saturate", type=int, default=16, help="presses in flight at saturation")
    parser.add_argument("--busy", action="store_true", help="keep every core busy with another process")
    args = parser.parse_args()

    sample = load_atoms(ROOT / "examples" / "kb")
    convs = [load_conversation(p) for p in sorted((ROOT / "examples" / "conversations").glob("*.json"))]
    with tempfile.TemporaryDirectory() as tmp:
        home = args.home or Path(tmp)
        settings = Settings(home=home)
        store = ChromaAtomStore.embedded(
            settings.chroma_path, "atoms", BilingualEmbedding(cache_dir=settings.cache_path, workers=0)
        )
        if store.count() < len(sample) + args.atoms:
            started = time.perf_counter()
            ingest_atoms(sample + generated(sample, args.atoms), store)
            print(f"ingested {store.count()} atoms in {time.perf_counter() - started:.0f} s")
        store.close()  # a server worker reads the store as `copilot serve` opens it: read-only
        store = ChromaAtomStore.embedded(
            settings.chroma_path,
            "atoms",
            BilingualEmbedding(cache_dir=settings.cache_path, workers=0),
            read_only=True,
        )
        copilot = Copilot(settings, store, open_audit_store(home / "bench-audit.sqlite3"), today=date.today)
        load = os.getloadavg()
        print(f"{store.count()} atoms; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        print(f"{'busy machine' if args.busy else 'no added load'} · latencies in ms from arrival")
        spinners = busy_machine(3600) if args.busy else []
        try:
            asyncio.run(scenarios(copilot, convs, args))
        finally:
            for p in spinners:
                p.terminate()
            copilot.close()


if __name__ == "__main__":
    main()
