"""Recall and false-positive rate of the PII redactor, per kind, on the golden corpus.

    python benchmarks/redaction_corpus.py            # a table
    python benchmarks/redaction_corpus.py --json     # one JSON document
    python benchmarks/redaction_corpus.py --misses   # also list what was missed

The detectors were tuned on most of the corpus; entries marked ``held_out`` were
written afterwards and are reported apart. The corpus (tests/data/pii_corpus.jsonl)
holds positive strings (``kind``, ``text``, the raw ``values`` that must not
survive, and the participants' ``names`` when the value is a participant's name)
and negative strings (``kind: none``, ``near``: the kind they resemble) in Chinese
and English. A positive counts as caught when no raw value survives redaction and
a detector of its kind fired. A negative is a false positive for every kind that
fired on it; a kind's false-positive rate is over all negatives.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from copilot._redact import PII_KINDS, Redactor, find_pii

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "pii_corpus.jsonl"


def score(corpus: Path = CORPUS) -> dict[str, Any]:
    entries = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    positives = [e for e in entries if e["kind"] != "none"]
    negatives = [e for e in entries if e["kind"] == "none"]
    total: Counter[str] = Counter(e["kind"] for e in positives)
    caught: Counter[str] = Counter()
    fired: Counter[str] = Counter()
    misses: list[dict[str, Any]] = []
    false_positives: list[dict[str, Any]] = []
    held_out = {"positives": 0, "caught": 0, "negatives": 0, "false_positives": 0}
    for e in positives:
        redactor = Redactor(names=e.get("names", ()))
        out = redactor.redact(e["text"])
        ok = all(v not in out for v in e["values"]) and redactor.counts[e["kind"]] > 0
        if ok:
            caught[e["kind"]] += 1
        else:
            misses.append({"kind": e["kind"], "text": e["text"], "redacted": out})
        if e.get("held_out"):
            held_out["positives"] += 1
            held_out["caught"] += ok
    for e in negatives:
        kinds = {m.kind for m in find_pii(e["text"])}
        fired.update(kinds)
        if e.get("held_out"):
            held_out["negatives"] += 1
            held_out["false_positives"] += bool(kinds)
        if kinds:
            false_positives.append({"near": e["near"], "text": e["text"], "kinds": sorted(kinds)})
    per_kind = {
        kind: {
            "positives": total[kind],
            "recall": round(caught[kind] / total[kind], 3) if total[kind] else None,
            "false_positive_rate": round(fired[kind] / len(negatives), 3),
        }
        for kind in PII_KINDS
    }
    return {
        "positives": len(positives),
        "negatives": len(negatives),
        "languages": {
            "zh": sum(_has_cjk(e["text"]) for e in entries),
            "en": sum(not _has_cjk(e["text"]) for e in entries),
        },
        "recall": round(sum(caught.values()) / len(positives), 3),
        "false_positive_rate": round(len(false_positives) / len(negatives), 3),
        "per_kind": per_kind,
        "held_out": held_out,
        "misses": misses,
        "false_positives": false_positives,
    }


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--misses", action="store_true", help="list missed positives and false positives")
    args = parser.parse_args()
    result = score()
    if args.json:
        json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return
    print(f"corpus: {result['positives']} positive, {result['negatives']} negative strings")
    print(f"{'kind':<12}{'n':>5}{'recall':>9}{'FP rate':>9}")
    for kind, row in result["per_kind"].items():
        recall = "—" if row["recall"] is None else f"{row['recall']:.3f}"
        print(f"{kind:<12}{row['positives']:>5}{recall:>9}{row['false_positive_rate']:>9.3f}")
    print(f"{'all':<12}{result['positives']:>5}{result['recall']:>9.3f}{result['false_positive_rate']:>9.3f}")
    held = result["held_out"]
    print(
        f"held out (written after the detectors, never tuned on): {held['caught']}/{held['positives']} "
        f"positives caught, {held['false_positives']}/{held['negatives']} negatives hit"
    )
    if args.misses:
        for miss in result["misses"]:
            print(f"missed {miss['kind']}: {miss['text']!r} -> {miss['redacted']!r}")
        for fp in result["false_positives"]:
            print(f"false positive {fp['kinds']} (near {fp['near']}): {fp['text']!r}")


if __name__ == "__main__":
    main()
