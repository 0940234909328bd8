"""Slack: time from the press to the suggestions posted, through a running ``copilot serve``.

    python benchmarks/slack_press_latency.py                      # 20 concurrent presses, 1 and 4 workers
    python benchmarks/slack_press_latency.py --presses 50 --workers 2

Starts the test suite's fake Slack Web API (tests/slack_fake.py) on 127.0.0.1 and
``copilot serve`` on the sample knowledge base (grounded engine), warms every
worker up, then sends N signed ``/suggest`` presses at once, each delivered twice
(the second as a Slack retry, ``X-Slack-Retry-Num: 1``). A press's time runs from
just before its request is sent to the moment the fake Slack receives its answer
(the ephemeral Block Kit message on the response_url). Prints p50/p95/max, the
acks' p95 and max, how many presses were told "busy, retry" instead of answered,
and how many duplicate deliveries were processed (must be 0).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from slack_fake import SlackSender  # noqa: E402

COPILOT = Path(sys.executable).parent / "copilot"
SECRET = "bench-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class RemoteFake:
    """The test suite's fake Slack, run in its own process so this one's threads do not
    slow it down; its arrival times are time.monotonic(), one clock for the machine."""

    def __init__(self) -> None:
        script = ROOT / "tests" / "slack_fake.py"
        self.proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()

    def calls(self, path: str) -> list[dict[str, object]]:
        with urllib.request.urlopen(f"{self.url}/stats", data=b"") as reply:
            return [c for c in json.load(reply)["calls"] if c["path"] == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 300) -> list[dict[str, object]]:
        deadline = time.monotonic() + timeout
        while len(found := self.calls(path)) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} not called {count} time(s) in {timeout} s")
            time.sleep(0.05)  # polling another process
        return found

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def run(workers: int, presses: int, home: Path) -> dict[str, float | int]:
    fake = RemoteFake()
    try:
        port = free_port()
        env = {
            k: v for k, v in os.environ.items() if not k.startswith("COPILOT_") or k == "COPILOT_LOG_LEVEL"
        }
        env.update(
            COPILOT_HOME=str(home),
            COPILOT_SLACK_SIGNING_SECRET=SECRET,
            COPILOT_SLACK_BOT_TOKEN="xoxb-bench",
            COPILOT_SLACK_API_URL=f"{fake.url}/api/",
        )
        cmd = [str(COPILOT), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        log = open(home / f"serve-{workers}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        stack = contextlib.ExitStack()
        try:
            fake.wait_for("/api/auth.test", count=workers)
            slack = stack.enter_context(SlackSender(f"http://127.0.0.1:{port}", SECRET))
            run_id = f"w{workers}-{time.time_ns()}"  # trigger ids never repeat across runs on one home
            slack.command(
                'deal customer="华东精工" industry=manufacturing stage=proposal', fake, f"deal-{run_id}"
            )
            fake.wait_for(f"/response/deal-{run_id}")
            warm = [f"warm{n}-{run_id}" for n in range(workers * 3)]
            with ThreadPoolExecutor(len(warm)) as pool:
                list(pool.map(lambda rid: slack.command("", fake, rid), warm))
            for rid in warm:
                fake.wait_for(f"/response/{rid}")
            return measure(fake, slack, presses, run_id)
        finally:
            stack.close()
            proc.terminate()
            proc.wait(timeout=60)
            log.close()
    finally:
        fake.close()


def measure(fake: RemoteFake, slack: SlackSender, presses: int, run_id: str) -> dict[str, float | int]:
    sent: dict[str, float] = {}
    acks: list[float] = []
    lock = threading.Lock()
    gate = threading.Barrier(presses)

    def press(n: int) -> None:
        rid = f"press{n}-{run_id}"
        gate.wait()
        started = time.monotonic()
        with lock:
            sent[rid] = started
        slack.command("", fake, rid)
        with lock:
            acks.append(time.monotonic() - started)
        slack.command(
            "", fake, rid, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
        )

    with ThreadPoolExecutor(presses) as pool:
        list(pool.map(press, range(presses)))
    latencies = []
    busy = 0
    for rid, started in sent.items():
        answer = fake.wait_for(f"/response/{rid}")[0]
        latencies.append((float(answer["at"]) - started) * 1000)  # type: ignore[arg-type]
        busy += not answer["blocks"]  # told to retry (the engine's Busy) instead of suggestions
    slack.command("", fake, f"drain-{run_id}")  # answered after every earlier delivery was handled
    fake.wait_for(f"/response/drain-{run_id}")
    duplicates = sum(len(fake.calls(f"/response/{rid}")) - 1 for rid in sent)
    return {
        "presses": presses,
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "max_ms": round(max(latencies), 1),
        "ack_p95_ms": round(percentile([a * 1000 for a in acks], 0.95), 1),
        "ack_max_ms": round(max(acks) * 1000, 1),
        "busy_answers": busy,
        "duplicates_processed": duplicates,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presses", type=int, default=20, help="concurrent presses (default 20)")
    parser.add_argument("--workers", default="1,4", help="comma-separated worker counts (default 1,4)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "COPILOT_HOME": str(home)}
        kb = ROOT / "examples" / "kb"
        subprocess.run(
            [str(COPILOT), "knowledge", "ingest", str(kb)], env=env, check=True, capture_output=True
        )
        for workers in (int(w) for w in args.workers.split(",")):
            results[workers] = run(workers, args.presses, home)
            if not args.json:
                r = results[workers]
                print(
                    f"{workers} worker(s), {r['presses']} concurrent presses: press->posted"
                    f" p50 {r['p50_ms']} ms,"
                    f" p95 {r['p95_ms']} ms, max {r['max_ms']} ms;"
                    f" ack p95 {r['ack_p95_ms']} ms, max {r['ack_max_ms']} ms;"
                    f" told busy: {r['busy_answers']};"
                    f" duplicate deliveries processed: {r['duplicates_processed']}",
                    flush=True,
                )
    if args.json:
        print(json.dumps({"workers": results, "load": os.getloadavg()}))
    else:
        print("load average (1/5/15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
