"""Misses and false finds of the decision chain on tests/data/decision_chain_fresh.

Runs every chat through the whole engine (``copilot demo --json`` in a temporary
COPILOT_HOME) and compares the covered roles with those in ``expected.yaml``::

    python benchmarks/decision_chain_fresh.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "decision_chain_fresh"


def main() -> int:
    expected = yaml.safe_load((DATA / "expected.yaml").read_text(encoding="utf-8"))
    files = sorted(p.name for p in DATA.glob("*.json"))
    with tempfile.TemporaryDirectory() as home:
        run = subprocess.run(
            ["copilot", "demo", "--json", "--conversations", str(DATA)],
            env={**os.environ, "COPILOT_HOME": home},
            capture_output=True,
            text=True,
            check=True,
        )
    results = json.loads(run.stdout)
    misses = false_finds = 0
    for name, result in zip(files, results, strict=True):
        want = set(expected[name]["covered"])
        covered = {c["role"]: c for c in result["decision_chain"]["covered"]}
        missed, extra = sorted(want - set(covered)), sorted(set(covered) - want)
        misses, false_finds = misses + len(missed), false_finds + len(extra)
        flag = "ok  " if not (missed or extra) else "DIFF"
        print(f"{flag} {name}: found {sorted(covered)}", end="")
        print(f"  missed {missed}" if missed else "", end="")
        quotes = [f"{r}<{(covered[r].get('evidence') or {}).get('quote', 'title')}>" for r in extra]
        print(f"  false {quotes}" if extra else "")
    print(f"{len(files)} chats: {misses} misses, {false_finds} false finds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
