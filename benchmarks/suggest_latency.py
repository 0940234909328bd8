"""Suggest latency (p50/p95), ingest throughput and memory on the grounded engine.

    python benchmarks/suggest_latency.py                 # sample KB + 10,000 generated atoms
    python benchmarks/suggest_latency.py --atoms 2000    # a smaller generated KB

Prints figures; asserts nothing. Excludes process start and the one-off model
load (a warm-up press runs first), as a long-running server would see it.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from audit import open_audit_store
from copilot import Conversation, Copilot, Settings
from copilot._cli_common import load_conversation
from knowledge import Atom, BilingualEmbedding, ChromaAtomStore, ingest_atoms, load_atoms

ROOT = Path(__file__).resolve().parent.parent
INDUSTRIES = ["manufacturing", "retail", "finance", "healthcare", "logistics", "energy", "education"]
STAGES = ["discovery", "qualification", "poc", "proposal", "negotiation", "closing", "renewal"]


def generated(base: list[Atom], n: int, seed: int = 7) -> list[Atom]:
    """``n`` plausible atoms: sample atoms re-cut with other industries, stages and wording."""
    rng = random.Random(seed)
    reply = [a for a in base if a.type in ("script", "objection", "product", "case", "policy")]
    out = []
    for i in range(n):
        src = rng.choice(reply)
        extra = rng.choice(["", "（第二版）", " (v2)", "，供参考。", " Happy to share details."])
        status = rng.choices(["approved", "draft", "retired"], [8, 1, 1])[0]
        data = src.model_dump(exclude={"path"})
        data.update(
            id=f"gen-{i:06d}-{src.id}"[:120],
            industries=rng.sample(INDUSTRIES, rng.randint(0, 2)),
            stages=rng.sample(STAGES, rng.randint(0, 3)),
            status=status,
            approved_by=src.approved_by or ("bench@example.com" if status == "approved" else ""),
            body=f"{src.body}{extra} #{i}",
        )
        out.append(Atom.model_validate(data))  # validated: every generated atom is a valid atom
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def presses(copilot: Copilot, conversations: list[Conversation], rounds: int) -> list[float]:
    copilot.warm_up()
    timings = []
    for _ in range(rounds):
        for conversation in conversations:
            started = time.perf_counter()
            await copilot.suggest(conversation)
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def run(label: str, atoms: list[Atom], conversations: list[Conversation], rounds: int) -> None:
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home))
        store = ChromaAtomStore.embedded(settings.chroma_path, "atoms", BilingualEmbedding())
        store.upsert(atoms[:2])  # load the model before timing ingest
        started = time.perf_counter()
        ingest_atoms(atoms, store)
        ingest_s = time.perf_counter() - started
        copilot = Copilot(settings, store, open_audit_store(settings.audit_path), today=date.today)
        try:
            timings = asyncio.run(presses(copilot, conversations, rounds))
        finally:
            copilot.close()
    print(f"{label}: {len(atoms)} atoms")
    print(f"  ingest      {len(atoms) / ingest_s:8.0f} atoms/s  ({ingest_s:.1f} s)")
    print(f"  suggest p50 {statistics.median(timings):8.1f} ms")
    print(f"  suggest p95 {percentile(timings, 0.95):8.1f} ms   ({len(timings)} presses)")
    print(f"  peak RSS    {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--atoms", type=int, default=10_000, help="size of the generated KB")
    parser.add_argument("--rounds", type=int, default=5, help="passes over the sample conversations")
    args = parser.parse_args()
    sample = load_atoms(ROOT / "examples" / "kb")
    conversations = [
        load_conversation(p) for p in sorted((ROOT / "examples" / "conversations").glob("*.json"))
    ]
    run("sample KB", sample, conversations, args.rounds)
    if args.atoms:
        run("generated KB", sample + generated(sample, args.atoms), conversations, args.rounds)


if __name__ == "__main__":
    main()
