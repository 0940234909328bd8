"""Ingest at scale, the way a content owner runs it: `copilot knowledge ingest DIR`.

    python benchmarks/ingest_scale.py --atoms 10000
    python benchmarks/ingest_scale.py --atoms 100000 --dir /tmp/kb100k-files --home /tmp/kb100k

Writes ``--atoms`` generated atom files (plus the sample KB) into ``--dir`` (kept and
reused when it already holds them), then runs the CLI twice in a fresh process each:
a first ingest into an empty ``--home`` and a re-ingest of the unchanged folder.
Prints wall time, atoms/s and the peak RSS of the CLI process and of its embedding
workers, with the machine's load average. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from suggest_latency import generated

from knowledge import Atom, load_atoms

ROOT = Path(__file__).resolve().parent.parent
FIELDS_SKIPPED = {"body", "path"}


def atom_file(atom: Atom) -> str:
    data = atom.model_dump(mode="json", exclude=FIELDS_SKIPPED, exclude_defaults=True)
    data.setdefault("status", atom.status)
    front = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=None)
    return f"---\n{front}---\n{atom.body}\n"


def write_folder(folder: Path, n: int) -> int:
    sample = load_atoms(ROOT / "examples" / "kb")
    marker = folder / ".generated"
    if marker.exists() and marker.read_text() == str(n):
        return n + len(sample)
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(ROOT / "examples" / "kb", folder / "sample")
    started = time.perf_counter()
    for i, atom in enumerate(generated(sample, n)):
        sub = folder / "generated" / f"{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True, exist_ok=True)
        (sub / f"{atom.id}.md").write_text(atom_file(atom), encoding="utf-8")
    marker.write_text(str(n))
    print(f"wrote {n} atom files in {time.perf_counter() - started:.0f} s")
    return n + len(sample)


def run_ingest(folder: Path, home: Path, extra_env: dict[str, str]) -> tuple[float, float, object]:
    """Wall seconds, peak RSS MB (the CLI process) and the CLI's --json report."""
    env = {**os.environ, "COPILOT_HOME": str(home), **extra_env}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("copilot")), "knowledge", "ingest", str(folder), "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"ingest failed (status {status}): {out[-500:]!r}")
    return wall, usage.ru_maxrss / 1024, json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--atoms", type=int, default=10_000, help="generated atoms besides the sample KB")
    parser.add_argument("--dir", type=Path, default=None, help="atom folder (kept and reused)")
    parser.add_argument("--home", type=Path, default=None, help="COPILOT_HOME for the store (emptied first)")
    parser.add_argument("--workers", default=None, help="COPILOT_INGEST_WORKERS for this run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dir or Path(tmp) / "kb"
        home = args.home or Path(tmp) / "home"
        total = write_folder(folder, args.atoms)
        if home.exists():
            shutil.rmtree(home / "chroma", ignore_errors=True)
            for name in ("audit.sqlite3", "audit.sqlite3.head", "ingest-manifest.json"):
                (home / name).unlink(missing_ok=True)
        env = {"COPILOT_INGEST_WORKERS": args.workers} if args.workers else {}
        load = os.getloadavg()
        print(f"{total} atoms in {folder}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        wall, rss, _ = run_ingest(folder, home, env)
        print(f"  first ingest     {wall:8.1f} s  {total / wall:7.1f} atoms/s  peak RSS {rss:6.0f} MB")
        wall, rss, _ = run_ingest(folder, home, env)
        print(f"  unchanged again  {wall:8.1f} s  {total / wall:7.1f} atoms/s  peak RSS {rss:6.0f} MB")
        load = os.getloadavg()
        print(f"  load average after {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
