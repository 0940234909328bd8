"""Audit log size: bytes on disk per ``suggestion_shown`` event. Prints figures; asserts nothing.

    python benchmarks/audit_size.py                  # 20,000 events
    python benchmarks/audit_size.py --events 200000
    cd /tmp && PYTHONPATH=/path/to/older/checkout python /path/to/benchmarks/audit_size.py   # "before"

The events are real: ``copilot demo`` runs the engine on the sample conversations
into a scratch COPILOT_HOME, and its ``suggestion_shown`` events are appended again
(fresh ids and times, batches of 100) to a new SQLite log until ``--events``. The
figure is the database file (and its WAL) divided by the events in it, so indexes,
the facts table and page slack count too.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from audit import AuditEvent, open_audit_store


def real_shown_events(home: Path) -> list[AuditEvent]:
    """The ``suggestion_shown`` events ``copilot demo`` logs (real engine, sample data)."""
    env = {**os.environ, "COPILOT_HOME": str(home)}
    code = "import sys; from copilot.cli import main; sys.argv = ['copilot', 'demo']; main()"
    home.mkdir(parents=True, exist_ok=True)  # also the demo's working folder: no package shadows PYTHONPATH
    subprocess.run([sys.executable, "-c", code], env=env, cwd=home, check=True, capture_output=True)
    with open_audit_store(home / "demo" / "audit.sqlite3", read_only=True) as store:
        return list(store.events(type="suggestion_shown"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        samples = real_shown_events(Path(tmp) / "home")
        base = datetime(2026, 9, 1, tzinfo=UTC)
        path = Path(tmp) / "size.sqlite3"
        with open_audit_store(path) as store:
            for start in range(0, args.events, 100):
                batch = []
                for n in range(start, min(start + 100, args.events)):
                    sample = samples[n % len(samples)]
                    data = sample.model_dump(exclude={"seq", "prev_hash", "hash", "event_id"})
                    data.update(
                        at=base + timedelta(seconds=n), suggestion_set_id=f"ss-{uuid.uuid4().hex[:16]}"
                    )
                    batch.append(AuditEvent(**data))
                store.append(batch)
        conn = sqlite3.connect(path)
        (body,) = conn.execute("SELECT avg(length(CAST(body AS BLOB))) FROM audit_events").fetchone()
        conn.close()
        size = sum(p.stat().st_size for p in Path(tmp).glob("size.sqlite3*"))
        print(
            f"{args.events:,} suggestion_shown events ({len(samples)} real samples): {size / 2**20:,.1f} MB,"
            f" {size / args.events:,.0f} bytes/event on disk, hashed body {body:,.0f} bytes/event"
        )


if __name__ == "__main__":
    main()
