"""Suggest latency with the LLM engine, against a fake OpenAI-compatible server whose
model takes a fixed time (default 300 ms) to answer.

    python benchmarks/llm_latency.py                    # 300 ms model, 5 rounds of the samples
    python benchmarks/llm_latency.py --delay-ms 300 --rounds 10 --json

Prints, as a table (or one JSON document with --json):

* Suggest p50/p95 with the LLM engine (one model call per press, real HTTP on 127.0.0.1),
* the copilot's own overhead: the press minus the model's fixed delay,
* the same press on the grounded engine alone,
* a plain one-call LangChain chain (prompt | ChatOpenAI | parser) on the same server.

The fake server is the tests' (tests/fake_openai.py); its drafts cite the first atom
the prompt offers, so the grounding checks run as they would on a real answer.
Asserts nothing. Warm-up presses run first, as a long-running server would see it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from audit import open_audit_store
from copilot import ChatModel, Conversation, Copilot, OpenAIChatModel, Settings
from copilot._cli_common import load_conversation
from knowledge import BilingualEmbedding, ChromaAtomStore, ingest_atoms, load_atoms

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from fake_openai import FakeOpenAI, FakeReply  # noqa: E402  (the tests' fake server)

_ATOM_ID = re.compile(r'"id": "([a-z0-9-]+)"')


def drafts(prompt: str) -> dict[str, Any]:
    """Three short replies citing the first atom offered (what a compliant model does)."""
    ids = _ATOM_ID.findall(prompt.split("<atoms>", 1)[-1])[:1]
    texts = [
        "理解您的顾虑，我们可以一起把方案范围对一下。",
        "想先确认一下：您这边最关心的是哪一点？",
        "我整理一份资料发您，您看哪天方便沟通？",
    ]
    return {"suggestions": [{"text": t, "citations": ids} for t in texts]}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def presses(copilot: Copilot, conversations: list[Conversation], rounds: int) -> list[dict[str, Any]]:
    for conversation in conversations[:3]:  # warm-up: connection pool, schema, caches
        await copilot.suggest(conversation)
    out = []
    for _ in range(rounds):
        for conversation in conversations:
            started = time.perf_counter()
            result = await copilot.suggest(conversation)
            out.append({"ms": (time.perf_counter() - started) * 1000, "engine": result.engine})
    await copilot.aclose()
    return out


def run_engine(
    store: ChromaAtomStore,
    home: Path,
    model: ChatModel | None,
    conversations: list[Conversation],
    rounds: int,
) -> list[dict[str, Any]]:
    settings = Settings(home=home)
    copilot = Copilot(
        settings, store, open_audit_store(home / "audit.sqlite3"), today=date.today, chat_model=model
    )
    copilot.warm_up()
    try:
        return asyncio.run(presses(copilot, conversations, rounds))
    finally:
        copilot.audit.close()


def plain_chain(url: str, n: int) -> list[float]:
    """One ChatOpenAI call per turn through an LCEL chain, as a minimal LangChain app does."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_openai import ChatOpenAI

    prompt = ChatPromptTemplate.from_messages([("system", "You help a sales rep."), ("user", "{chat}")])
    chain = (
        prompt
        | ChatOpenAI(base_url=url, model="gpt-fake", api_key="sk-bench", max_retries=0, timeout=10)
        | StrOutputParser()
    )  # type: ignore[arg-type]
    chain.invoke({"chat": "warm up"})
    out = []
    for _ in range(n):
        started = time.perf_counter()
        chain.invoke({"chat": "价格比预算高不少，能便宜点吗？"})
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--delay-ms", type=float, default=300.0, help="the fake model's fixed answer time")
    parser.add_argument("--rounds", type=int, default=5, help="passes over the sample conversations")
    parser.add_argument("--json", action="store_true", help="print one JSON document, nothing else")
    args = parser.parse_args()
    conversations = [
        load_conversation(p) for p in sorted((ROOT / "examples" / "conversations").glob("*.json"))
    ]
    delay = args.delay_ms / 1000
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI(FakeReply(drafts=drafts, delay_s=delay)) as fake:
        home = Path(tmp)
        store = ChromaAtomStore.embedded(home / "chroma", "atoms", BilingualEmbedding())
        ingest_atoms(load_atoms(ROOT / "examples" / "kb"), store)
        model = OpenAIChatModel(base_url=fake.url, model="gpt-fake", api_key="sk-bench", timeout_s=2.5)
        fake.script(FakeReply(drafts=drafts, delay_s=delay))
        llm = run_engine(store, home / "llm", model, conversations, args.rounds)
        calls = len(fake.completions()) / (len(conversations) * args.rounds + 3)
        grounded = run_engine(store, home / "grounded", None, conversations, args.rounds)
        chain = plain_chain(fake.url, len(conversations) * args.rounds)
        store.close()
    llm_ms = [p["ms"] for p in llm]
    rows["Suggest, LLM engine"] = _row(llm_ms)
    rows["  copilot's own overhead"] = _row([ms - args.delay_ms for ms in llm_ms])
    rows["Suggest, grounded engine"] = _row([p["ms"] for p in grounded])
    rows["plain one-call LangChain chain"] = _row(chain)
    shown = sum(p["engine"] == "llm" for p in llm) / len(llm)
    meta = {"delay_ms": args.delay_ms, "presses": len(llm), "model_calls_per_press": round(calls, 2)}
    meta["llm_replies_shown"] = round(shown, 3)
    meta["p95_vs_chain"] = round(
        rows["Suggest, LLM engine"]["p95"] / rows["plain one-call LangChain chain"]["p95"], 3
    )
    if args.json:
        print(json.dumps({"rows": rows, **meta}))
        return
    table = Table(title=f"Suggest latency, fake model answering in {args.delay_ms:.0f} ms")
    for column in ("", "p50 ms", "p95 ms", "n"):
        table.add_column(column, justify="left" if not column else "right")
    for name, row in rows.items():
        table.add_row(name, f"{row['p50']:.1f}", f"{row['p95']:.1f}", str(row["n"]))
    console = Console()
    console.print(table)
    console.print(
        f"model calls per press {meta['model_calls_per_press']} · LLM replies shown in "
        f"{shown:.0%} of presses · p95 / chain p95 = {meta['p95_vs_chain']}"
    )


def _row(values: list[float]) -> dict[str, Any]:
    return {
        "p50": round(statistics.median(values), 1),
        "p95": round(percentile(values, 0.95), 1),
        "n": len(values),
    }


if __name__ == "__main__":
    main()
