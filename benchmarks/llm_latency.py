"""Suggest latency with the LLM engine, against a fake OpenAI-compatible server whose
model takes a fixed time (default 300 ms) to answer.

    python benchmarks/llm_latency.py                    # 300 ms model, 5 rounds of the samples
    python benchmarks/llm_latency.py --delay-ms 300 --rounds 10 --json

Prints, as a table (or one JSON document with --json):

* Suggest p50/p95 with the LLM engine (one model call per press, real HTTP on 127.0.0.1),
* the copilot's own overhead: the press minus the model's fixed delay,
* the same press on the grounded engine alone,
* a plain one-call LangChain chain (prompt | ChatOpenAI | parser) on the same server,
* with --faults: for each fault the server can play (malformed JSON, fabricated
  citations, ungrounded figures, HTTP 500, 429 then success, too slow, server down),
  how often the grounded engine took over, and the reasons recorded.

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

from pydantic import SecretStr
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
    llm = ChatOpenAI(base_url=url, model="gpt-fake", api_key=SecretStr("sk-bench"), max_retries=0, timeout=10)
    chain = prompt | llm | StrOutputParser()
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
    parser.add_argument(
        "--faults", action="store_true", help="also measure fallback rate and reason per fault"
    )
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
        faults = run_faults(store, home, fake, conversations) if args.faults else {}
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
        print(json.dumps({"rows": rows, **meta, "faults": faults}))
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
    if faults:
        table = Table(title="Faults: how often the grounded engine took over, and why")
        for column in ("fault", "fallback rate", "reasons", "LLM replies replaced"):
            table.add_column(column)
        for name, row in faults.items():
            reasons = ", ".join(f"{r} ×{n}" for r, n in row["reasons"].items()) or "—"
            table.add_row(name, f"{row['fallback_rate']:.0%}", reasons, str(row["replaced"]))
        console.print(table)


def _fabricated(prompt: str) -> dict[str, Any]:
    out = drafts(prompt)
    for draft in out["suggestions"]:
        draft["citations"] = [*draft["citations"], "obj-fabricated-999"]
    return out


def _ungrounded(prompt: str) -> dict[str, Any]:
    out = drafts(prompt)
    out["suggestions"][0]["text"] = "保证三个月内提升 300%，行业第一。"
    return out


FAULTS: dict[str, list[FakeReply]] = {
    "malformed JSON": [FakeReply(raw="Sure! 1) 降价 2) 打折")],
    "fabricated citations": [FakeReply(drafts=_fabricated)],
    "ungrounded figures (1 of 3)": [FakeReply(drafts=_ungrounded)],
    "HTTP 500": [FakeReply(status=500)],
    "429 then success": [FakeReply(status=429), FakeReply(drafts=drafts)],
    "slow (20 s)": [FakeReply(drafts=drafts, delay_s=20)],
}


def run_faults(
    store: ChromaAtomStore, home: Path, fake: FakeOpenAI, conversations: list[Conversation]
) -> dict[str, dict[str, Any]]:
    """Each fault on the first five sample conversations, 1 s model share."""
    out: dict[str, dict[str, Any]] = {}
    sample = conversations[:5]
    cases = {**FAULTS, "server down": []}
    for name, replies in cases.items():
        url = fake.url if replies else "http://127.0.0.1:9/v1"  # port 9 (discard): nothing listens
        model = OpenAIChatModel(base_url=url, model="gpt-fake", timeout_s=1.0)
        results = []
        for conversation in sample:
            if replies:
                fake.script(*replies)
            settings = Settings(home=home / "faults", llm_timeout_s=1.0)
            audit = open_audit_store(home / "faults.sqlite3")
            copilot = Copilot(settings, store, audit, today=date.today, chat_model=model)
            copilot.warm_up()
            results.append(asyncio.run(_press(copilot, conversation)))
            audit.close()
        reasons: dict[str, int] = {}
        for result in results:
            if result.fallback:
                reasons[result.fallback.reason] = reasons.get(result.fallback.reason, 0) + 1
        replaced = sum(len(r.provenance["reply"].replaced) for r in results)
        out[name] = {"fallback_rate": sum(r.engine == "grounded" for r in results) / len(results)}
        out[name].update(reasons=reasons, replaced=replaced, presses=len(results))
    return out


async def _press(copilot: Copilot, conversation: Conversation) -> Any:
    try:
        return await copilot.suggest(conversation)
    finally:
        await copilot.aclose()


def _row(values: list[float]) -> dict[str, Any]:
    return {
        "p50": round(statistics.median(values), 1),
        "p95": round(percentile(values, 0.95), 1),
        "n": len(values),
    }


if __name__ == "__main__":
    main()
