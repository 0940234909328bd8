"""WeCom: from a rep's message to the suggestions at the WeCom API, with 20 reps at once.

    python benchmarks/wecom_flow.py                 # 20 reps x 5 presses each
    python benchmarks/wecom_flow.py --reps 20 --presses 10 --json

Starts `copilot serve` (a subprocess, as in production) on the sample knowledge base,
with COPILOT_WECOM_API_URL pointing at a fake WeCom API in this process that
timestamps what it receives. Each rep, in its own thread, repeatedly pastes a
customer message (encrypted callback), taps 建议话术 on the card that comes back, and
waits for the answer card. Every callback is delivered twice (a WeCom retry).

Prints p50/p95/max of:
* message → card:   callback POSTed → the 建议话术 card reaches the API;
* press → answer:   建议话术 tap POSTed → the answer card (suggestions) reaches the API;
* message → suggestions: the message POSTed → the answer card reaches the API, the tap included;
* callback answer:  the HTTP answer time of the callback itself (WeCom allows 5 s);
and the duplicate deliveries processed (must be 0). Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from wecom_fakes import (  # noqa: E402  (the test fakes, reused)
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    SECRET,
    TOKEN,
    FakeWeCom,
    card_event_xml,
    fake_wecom_server,
    signed_post,
    text_xml,
)

MESSAGES = [
    "方案我们技术认可，但极光数仓的报价比你们低两成，你们怎么说？",
    "价格比预算高不少，能不能再便宜点？",
    "你们的系统能和我们现有的 ERP 打通吗？",
    "财务那边还没看过，我们再内部讨论一下。",
    "Can you share a customer case in manufacturing?",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Rep(threading.Thread):
    def __init__(self, base: str, fake: FakeWeCom, name: str, presses: int) -> None:
        super().__init__(daemon=True)
        self.base, self.fake, self.user, self.presses = base, fake, name, presses
        self.timings: dict[str, list[float]] = {
            "message→card": [],
            "press→answer": [],
            "message→suggestions": [],
        }
        self.callback_s: list[float] = []
        self.error: BaseException | None = None

    def _cards(self) -> list[tuple[float, dict[str, Any]]]:
        with self.fake.cond:
            return [
                (c["at"], c["body"]["template_card"])
                for c in self.fake.calls
                if c["ok"]
                and c["body"].get("touser") == self.user
                and c["body"].get("msgtype") == "template_card"
            ]

    def _deliver(self, client: httpx.Client, inner: bytes) -> float:
        sent = time.monotonic()
        for _ in range(2):  # the delivery and a WeCom retry of the same message or event
            query, body = signed_post(inner)
            started = time.monotonic()
            answer = client.post(f"/wecom/callback?{urllib.parse.urlencode(query)}", content=body)
            self.callback_s.append(time.monotonic() - started)
            answer.raise_for_status()
        return sent

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.base, timeout=30) as client:
                for n in range(self.presses):
                    seen = len(self._cards())
                    text = MESSAGES[n % len(MESSAGES)]
                    sent = self._deliver(client, text_xml(self.user, text, f"{self.user}-{n}"))
                    self.fake.wait_for(lambda f, k=seen: len(self._cards()) > k, timeout=120)
                    at, ask = self._cards()[seen]
                    self.timings["message→card"].append(at - sent)
                    pressed = self._deliver(
                        client, card_event_xml(self.user, "suggest", ask["task_id"], pick=None)
                    )
                    self.fake.wait_for(lambda f, k=seen: len(self._cards()) > k + 1, timeout=120)
                    at, _answer = self._cards()[seen + 1]
                    self.timings["press→answer"].append(at - pressed)
                    self.timings["message→suggestions"].append(at - sent)
        except BaseException as exc:
            self.error = exc


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--presses", type=int, default=5, help="presses per rep")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="wecom-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COPILOT_SLACK", "COPILOT_WECOM"))}
    env["COPILOT_HOME"] = str(home)
    copilot = str(Path(sys.executable).parent / "copilot")
    subprocess.run(
        [copilot, "knowledge", "ingest", str(ROOT / "examples" / "kb")],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with fake_wecom_server() as fake:
        env |= {
            "COPILOT_WECOM_CORP_ID": CORP_ID,
            "COPILOT_WECOM_AGENT_ID": str(AGENT_ID),
            "COPILOT_WECOM_SECRET": SECRET,
            "COPILOT_WECOM_TOKEN": TOKEN,
            "COPILOT_WECOM_AES_KEY": AES_KEY,
            "COPILOT_WECOM_API_URL": fake.url,
        }
        log = (home / "serve.log").open("w")
        proc = subprocess.Popen(
            [copilot, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=log
        )
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None:
                    sys.exit(f"copilot serve exited; see {home / 'serve.log'}")
                time.sleep(0.2)
            reps = [Rep(base, fake, f"rep.{i:02d}", args.presses) for i in range(args.reps)]
            started = time.monotonic()
            for rep in reps:
                rep.start()
            for rep in reps:
                rep.join()
            wall = time.monotonic() - started
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()
        errors = [r.error for r in reps if r.error]
        expected = sum(2 * args.presses for r in reps)  # one 建议话术 card and one answer per press
        sends = len(fake.sends())
    figures: dict[str, Any] = {
        "reps": args.reps,
        "presses": args.reps * args.presses,
        "wall_s": round(wall, 2),
        "duplicate_deliveries": expected,
        "duplicates_processed": max(0, sends - expected),
        "errors": [repr(e)[:200] for e in errors],
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    series = {k: [t for r in reps for t in r.timings[k]] for k in reps[0].timings}
    series["callback answer"] = [t for r in reps for t in r.callback_s]
    for name, values in series.items():
        if values:
            figures[name] = {
                "p50_ms": round(_pct(values, 0.5) * 1000, 1),
                "p95_ms": round(_pct(values, 0.95) * 1000, 1),
                "max_ms": round(max(values) * 1000, 1),
                "mean_ms": round(statistics.fmean(values) * 1000, 1),
                "n": len(values),
            }
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
        return
    print(f"{args.reps} reps x {args.presses} presses, wall {figures['wall_s']} s")
    print(f"load average {figures['load_average']}")
    for name in series:
        if name in figures:
            f = figures[name]
            line = f"  {name:22} p50 {f['p50_ms']:8.1f} ms  p95 {f['p95_ms']:8.1f} ms"
            print(f"{line}  max {f['max_ms']:8.1f} ms  (n={f['n']})")
    dup = figures["duplicate_deliveries"], figures["duplicates_processed"]
    print(f"  duplicate deliveries sent: {dup[0]}, processed: {dup[1]}")
    if errors:
        print(f"  errors: {figures['errors']}")


if __name__ == "__main__":
    main()
