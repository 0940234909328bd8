"""Relevance of the grounded replies on conversations nobody tuned the code on.

    python benchmarks/relevance.py                    # benchmarks/relevance/*.json, examples/kb
    python benchmarks/relevance.py --json             # one JSON document
    python benchmarks/relevance.py --show 13          # print the replies for files starting "13"

The conversations in benchmarks/relevance/ were written by someone who had not read the
knowledge base; labels.yaml says which atoms would be fitting for each last customer turn.
Prints, over all conversations:

* top fitting: the first suggestion cites a fitting atom;
* top specific: the same, not counting atoms (zh/en variants together) fitting more than half
  the set (generic ones);
* any of three fitting;
* internal text shown: suggestions quoting a sentence of an internal atom (policy,
  playbook, or ``audience: internal``); must be 0;
* over length: suggestions over 300 characters (zh, spaces aside) or 80 words (en); must be 0;
* markdown: suggestions with Markdown headings, bullets or emphasis; must be 0.

A measurement, not a test: never edit atoms or code to make these figures move.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from audit import open_audit_store
from copilot import Conversation, Copilot, Settings, SuggestionSet
from knowledge import Atom, BilingualEmbedding, ChromaAtomStore, ingest_atoms, load_atoms

ROOT = Path(__file__).resolve().parent.parent
INTERNAL_TYPES = ("policy", "playbook")
_MARKDOWN = re.compile(r"(?m)^\s*(?:#{1,6}\s|[-*+•]\s|\d+\.\s)|\*\*|__")
_PLACEHOLDER = re.compile(r"\{[a-z]+\}")


def internal(atom: Atom) -> bool:
    audience = getattr(atom, "audience", None)  # older versions of the atom had no audience
    return audience == "internal" if audience else atom.type in INTERNAL_TYPES


def fragments(atom: Atom) -> list[str]:
    """Pieces of an internal atom's body long enough that finding one in a reply means it was quoted."""
    pieces = re.split(r"[。！？；.!?;\n]|\{[a-z]+\}", atom.body)
    return [p.strip() for p in pieces if len(p.strip()) >= (12 if atom.language == "zh" else 30)]


def too_long(text: str, language: str) -> bool:
    return len(re.sub(r"\s", "", text)) > 300 if language == "zh" else len(text.split()) > 80


async def run(kb: Path, folder: Path, today: date) -> tuple[list[dict[str, Any]], list[SuggestionSet]]:
    labels = {e["file"]: e for e in yaml.safe_load((folder / "labels.yaml").read_text(encoding="utf-8"))}
    atoms = load_atoms(kb)
    secret = [f for a in atoms if internal(a) for f in fragments(a)]
    rows: list[dict[str, Any]] = []
    results: list[SuggestionSet] = []
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home))
        store = ChromaAtomStore.embedded(settings.chroma_path, "atoms", BilingualEmbedding())
        ingest_atoms(atoms, store)
        copilot = Copilot(settings, store, open_audit_store(settings.audit_path), today=lambda: today)
        try:
            copilot.warm_up()
            for path in sorted(folder.glob("*.json")):
                conversation = Conversation.model_validate_json(path.read_text(encoding="utf-8"))
                result = await copilot.suggest(conversation)
                fitting = set(labels[path.name]["fitting"])
                cited = [set(s.citations) for s in result.suggestions]
                rows.append(
                    {
                        "file": path.name,
                        "intent": labels[path.name]["intent"],
                        "fitting": sorted(fitting),
                        "top": bool(cited and cited[0] & fitting),
                        "top_cited": sorted(cited[0]) if cited else [],
                        "any": any(c & fitting for c in cited),
                        "internal": sum(any(f in s.text for f in secret) for s in result.suggestions),
                        "over_length": sum(too_long(s.text, result.language) for s in result.suggestions),
                        "markdown": sum(bool(_MARKDOWN.search(s.text)) for s in result.suggestions),
                        "shown": len(result.suggestions),
                        "ms": result.timings_ms.get("total", 0.0),
                        "agents_ms": result.timings_ms.get("agents", 0.0),
                    }
                )
                results.append(result)
        finally:
            copilot.close()
    return rows, results


def _family(atom_id: str) -> str:
    return re.sub(r"-(?:zh|en)$", "", atom_id)


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    counts: dict[str, int] = {}  # by family: "-zh"/"-en" variants of one atom count together
    for row in rows:
        for family in {_family(a) for a in row["fitting"]}:
            counts[family] = counts.get(family, 0) + 1
    generic = {a for r in rows for a in r["fitting"] if counts[_family(a)] > n / 2}
    specific = [r for r in rows if set(r["fitting"]) - generic]
    top_specific = sum(bool(set(r["top_cited"]) & (set(r["fitting"]) - generic)) for r in specific)
    return {
        "conversations": n,
        "top_fitting": sum(r["top"] for r in rows),
        "top_specific": top_specific,
        "with_specific": len(specific),
        "any_of_three_fitting": sum(r["any"] for r in rows),
        "internal_text_shown": sum(r["internal"] for r in rows),
        "over_length": sum(r["over_length"] for r in rows),
        "markdown": sum(r["markdown"] for r in rows),
        "fewer_than_three": sum(r["shown"] < 3 for r in rows),
        "median_ms": round(statistics.median(r["ms"] for r in rows), 1),
        "median_agents_ms": round(statistics.median(r["agents_ms"] for r in rows), 1),
        "generic_atoms": sorted(generic),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--kb", type=Path, default=ROOT / "examples" / "kb")
    parser.add_argument("--conversations", type=Path, default=ROOT / "benchmarks" / "relevance")
    parser.add_argument("--today", type=date.fromisoformat, default=date(2026, 11, 29))
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--show", default="", help="print the replies of files starting with this")
    args = parser.parse_args()
    rows, results = asyncio.run(run(args.kb, args.conversations, args.today))
    figures = summary(rows)
    if args.json:
        print(json.dumps({"summary": figures, "rows": rows}, ensure_ascii=False, indent=2))
        return
    if args.show:
        for row, result in zip(rows, results, strict=True):
            if row["file"].startswith(args.show):
                print(f"== {row['file']} ({row['intent']}) fitting={row['fitting']}")
                for s in result.suggestions:
                    print(f"  - {s.text}  {s.citations}")
                for g in result.guidance:
                    print(f"  guidance: {g.text}")
    n = figures["conversations"]
    print(f"conversations            {n}")
    print(f"top suggestion fitting   {figures['top_fitting']}/{n}")
    print(f"top fitting (specific)   {figures['top_specific']}/{figures['with_specific']}")
    print(f"any of three fitting     {figures['any_of_three_fitting']}/{n}")
    print(f"internal text shown      {figures['internal_text_shown']} suggestions")
    print(f"over the length limit    {figures['over_length']} suggestions")
    print(f"markdown                 {figures['markdown']} suggestions")
    print(f"fewer than three shown   {figures['fewer_than_three']} conversations")
    print(f"median Suggest           {figures['median_ms']} ms (agents {figures['median_agents_ms']} ms)")
    misses = [r["file"] for r in rows if not r["top"]]
    print(f"top not fitting: {' '.join(misses)}")


if __name__ == "__main__":
    main()
