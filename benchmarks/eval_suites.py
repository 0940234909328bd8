"""How long the shipped eval suites take, cold (knowledge base not yet cached) and warm.

    python benchmarks/eval_suites.py                       # grounded engine, concurrency 4
    python benchmarks/eval_suites.py --concurrency 8 --runs 3

Prints figures; asserts nothing. Cold = a fresh COPILOT_HOME (the sample KB is
ingested into the eval cache first); warm = the same home again, as a rerun in
CI or on a laptop sees it. Each figure is the whole run, in process, including
opening the store and loading the embedding model.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from copilot import Settings
from evals import RunConfig, load_suites, run_cases

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="*", type=Path, default=[ROOT / "evals" / "suites"])
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--runs", type=int, default=2, help="warm runs after the cold one")
    args = parser.parse_args()
    cases = load_suites(args.paths, engine="grounded")
    with tempfile.TemporaryDirectory(prefix="eval-bench-") as home:
        settings = Settings(home=Path(home))
        walls = []
        for run in range(args.runs + 1):
            config = RunConfig(settings=settings, concurrency=args.concurrency)
            started = time.perf_counter()
            report = asyncio.run(run_cases(cases, config))
            wall = time.perf_counter() - started
            s = report.summary()
            label = "cold" if run == 0 else f"warm {run}"
            print(
                f"{label:7} {s['cases']} cases  {wall:6.2f} s  passed {s['passed']}/{s['cases']}  "
                f"press p50 {s['latency_p50_ms']:.0f} ms  p95 {s['latency_p95_ms']:.0f} ms"
            )
            if run:
                walls.append(wall)
        if walls:
            print(f"warm median {statistics.median(walls):.2f} s at concurrency {args.concurrency}")
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
