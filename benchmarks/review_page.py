"""Page load time of the managers' web view (/review) on a large decision log. Prints figures.

    python benchmarks/review_page.py                          # builds a 1,000,000-event log
    python benchmarks/review_page.py --events 100000          # a smaller one
    python benchmarks/review_page.py --home /tmp/review-1m    # reuse (or build once into) a home
    python benchmarks/review_page.py --events 3000 --screenshots docs/   # dashboard + timeline PNGs

The log is written with the store's batched append (1,000 events per call):
per suggestion set one ``suggestion_shown`` (a redacted Chinese or English
conversation, three cited suggestions, guidance, a competitor answer, a decision
chain, compliance notes; ~2 KB), most get a ``rep_action``, some ``feedback``.
40 reps in 4 teams over the last 120 days. The app is the real ``ReviewApp``
under uvicorn on 127.0.0.1; times are wall-clock HTTP requests from this process.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from starlette.applications import Starlette

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from asgi_server import serve_in_thread

from audit import AtomInfo, AuditEvent, ReviewApp, open_audit_store
from copilot import Settings

ADMIN = "bench-admin-token-0123456789"
MANAGER = "bench-manager-token-0123456789"
TEAMS = {
    team: [f"U{n}" for n in range(i, 40, 4)] for i, team in enumerate(["east", "west", "north", "south"])
}
ACTIONS = ["sent_as_is", "sent_as_is", "sent_as_is", "edited", "dismissed", "wrote_own", "sent_as_is", None]
COMPETITORS = ["极光数仓", "StarMap", "磐石云", None, None, None]
ROLES = [["cfo"], ["cfo", "procurement"], [], ["legal"], ["it_security"], []]
ZH = [
    ("c-7", "方案我们技术这边认可了，但价格比预算高不少。"),
    ("c-8", "极光数仓那边的报价比你们低了差不多两成，你们怎么说？"),
    ("c-7", "你们是不是行业第一？能保证上线后效率提升 30% 吗？"),
]
EN = [
    ("c-1", "The proposal looks good technically, but the price is above our budget."),
    ("c-2", "StarMap quoted us 20% less. Why should we pick you?"),
    ("c-1", "Can you guarantee 99.99% uptime in the contract?"),
]
REPLIES_ZH = [
    "理解您的预算压力。按三年总拥有成本看，MES Cloud 比一次性采购节省约 18%，我整理一份测算给您。",
    "方便问一下，预算是按一年还是三年口径核算的？我们可以按分期方案重新报一版。",
    "建议本周安排一次三方会议，请财务一起看 TCO 测算，48 小时内我把材料发您。",
]
REPLIES_EN = [
    "I understand the budget pressure. Over three years the total cost of ownership is about 18% lower.",
    "May I ask whether the budget is annual or over the contract term? We can phase the rollout.",
    "Shall we set up a call with your finance lead this week? I will send the TCO model within 48 hours.",
]


def shown(n: int, at: datetime) -> AuditEvent:
    chinese = n % 3 != 2
    messages = ZH if chinese else EN
    replies = REPLIES_ZH if chinese else REPLIES_EN
    competitor = COMPETITORS[n % len(COMPETITORS)]
    missing = ROLES[n % len(ROLES)]
    atoms = [f"obj-price-{(n + i) % 60:02d}" for i in range(3)]
    blocked = n % 40 == 0
    return AuditEvent(
        type="suggestion_shown",
        at=at,
        actor=f"U{n % 40}",
        conversation_id=f"wecom:wr-{n % 5000}",
        suggestion_set_id=f"ss-{n:012x}",
        input={
            "deal": {"customer": "[PERSON_482913]", "industry": "manufacturing", "stage": "proposal"},
            "participants": [
                {"id": "rep", "name": f"[PERSON_{n % 900:06d}]", "side": "rep"},
                {"id": "c-7", "name": "[PERSON_100001]", "side": "customer", "title": "CTO"},
                {"id": "c-8", "name": "[PERSON_100002]", "side": "customer", "title": "采购经理"},
                {"id": "c-1", "name": "[PERSON_100003]", "side": "customer", "title": "CFO"},
                {"id": "c-2", "name": "[PERSON_100004]", "side": "customer", "title": "Procurement"},
            ],
            "messages": [{"from": who, "text": text} for who, text in messages[: 1 + n % 3]],
        },
        output={
            "id": f"ss-{n:012x}",
            "engine": "llm" if n % 4 == 0 else "grounded",
            "fallback": {"reason": "timeout"} if n % 25 == 0 else None,
            "suggestions": [
                {"text": text, "citations": [atom], "legal_basis": ["《广告法》第九条"] if i == 2 else []}
                for i, (text, atom) in enumerate(zip(replies, atoms, strict=True))
            ],
            "competitor": {
                "name": competitor,
                "claim": "报价低两成",
                "response": "我们不评价友商；按三年 TCO 对比，我们的实施和运维成本更低。",
                "citations": ["comp-auroradw"],
            }
            if competitor
            else None,
            "decision_chain": {
                "required_roles": ["cto", *missing],
                "covered": [
                    {"role": "cto", "state": "approved", "evidence": {"message": 0, "quote": "技术认可"}}
                ],
                "missing_roles": missing,
                "next_action": {"text": "邀请财务总监参加三方会议", "deadline_hours": 48}
                if missing
                else None,
            },
            "guidance": [
                {
                    "text": "不要承诺排名或效果",
                    "citations": ["pol-ad-law-superlatives"],
                    "legal_basis": ["《广告法》第九条"],
                }
            ],
            "compliance": [
                {
                    "target": "suggestion[1]",
                    "rule": "ad-law-superlative",
                    "basis": "《广告法》第九条",
                    "action": "blocked" if blocked else "repaired",
                }
            ]
            if n % 8 == 0
            else [],
        },
        engine="llm" if n % 4 == 0 else "grounded",
        model="gpt-4o-mini" if n % 4 == 0 else "",
        prompt_versions={"reply": "3", "decision_chain": "1"},
        atoms={atom: 1 + (n % 3) for atom in atoms},
        latency_ms=float(8 + (n * 7919) % 400),
    )


def follow_ups(n: int, at: datetime, event: AuditEvent) -> list[AuditEvent]:
    kind = ACTIONS[((n * 2654435761) >> 7) % len(ACTIONS)]
    out: list[AuditEvent] = []
    replies = [s["text"] for s in event.output["suggestions"]]  # type: ignore[index]
    base: dict[str, Any] = {"actor": event.actor, "suggestion_set_id": event.suggestion_set_id}
    chosen = (n // 7) % 3
    if kind == "sent_as_is":
        out.append(AuditEvent(type="rep_action", at=at, action=kind, suggestion_index=chosen,
                              final_text=replies[chosen], edit_distance=0, **base))  # fmt: skip
    elif kind == "edited":
        text = replies[0].replace("18%", "20%").replace("我整理", "今天我整理")
        out.append(AuditEvent(type="rep_action", at=at, action=kind, suggestion_index=0,
                              final_text=text, edit_distance=4, **base))  # fmt: skip
    elif kind == "wrote_own":
        out.append(AuditEvent(type="rep_action", at=at, action=kind, final_text="我晚点给您电话。", **base))
    elif kind == "dismissed":
        out.append(AuditEvent(type="rep_action", at=at, action=kind, **base))
    if n % 20 == 0:
        out.append(AuditEvent(type="feedback", at=at, helpful=n % 40 == 0, suggestion_index=0, **base))
    return out


def build(store: Any, events: int) -> None:
    start = datetime.now(UTC) - timedelta(days=120)
    step = timedelta(days=120) / max(1, events // 2)
    batch: list[AuditEvent] = []
    written, n, began = store.count(), 0, time.perf_counter()
    while written < events:
        at = start + step * n
        event = shown(n, at)
        batch += [event, *follow_ups(n, at + timedelta(seconds=40), event)]
        n += 1
        if len(batch) >= 1000:
            store.append(batch)
            written += len(batch)
            batch = []
            if n % 50_000 < 600:
                rate = written / (time.perf_counter() - began)
                print(f"  {written:,} events ({rate:,.0f}/s)", flush=True)
    if batch:
        store.append(batch)


def timed(client: httpx.Client, path: str, runs: int = 1) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return times


def sign_in(client: httpx.Client, token: str) -> None:
    page = client.get("/review/signin").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    answer = client.post("/review/signin", data={"csrf": csrf.group(1), "token": token})
    assert answer.status_code == 303, answer.text


def atom_text(atom_id: str) -> AtomInfo:
    return AtomInfo(
        atom_id, "价格比预算高 — 制造业", "objection", 3, "理解您的预算压力。按三年总拥有成本看 …"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--home", type=Path, default=None, help="Reuse (or build once into) this folder.")
    parser.add_argument("--runs", type=int, default=5, help="Warm requests per page.")
    parser.add_argument("--screenshots", type=Path, default=None, help="Save dashboard + timeline PNGs here.")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="review-bench-"))
    tokens = {
        ADMIN: {"role": "admin", "id": "compliance"},
        MANAGER: {"role": "manager", "id": "M1", "team": "east"},
    }
    settings = Settings(home=home, review_tokens=SecretStr(json.dumps(tokens)), teams=TEAMS)
    print(f"home {home}; load {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    with open_audit_store(settings.audit_path) as store:
        began = time.perf_counter()
        if store.count() < args.events:
            print(f"building the log to {args.events:,} events (batched append) …", flush=True)
            build(store, args.events)
            print(f"built in {time.perf_counter() - began:.0f} s")
        count = store.count()
        review = ReviewApp(store, settings, b"bench-session-key-0123456789abcdef", atom_text)
        app = Starlette(routes=review.routes())
        with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=600) as client:
            sign_in(client, ADMIN)
            set_id = next(
                e.suggestion_set_id
                for e in store.events(type="rep_action", since_seq=max(0, count - 5000))
                if e.action == "edited" and e.actor in TEAMS["east"] and not (e.final_text or "").isascii()
            )
            first = timed(client, "/review")[0]
            print(f"log: {count:,} events, {review.index.stats()['sets']:,} sets")
            print(f"/review first load (builds the index from the facts): {first:,.0f} ms")
            started = time.perf_counter()  # the first dashboard started the compliance pass
            while review.index.stats()["compliance_since"] is None:
                time.sleep(0.5)
            took = time.perf_counter() - started
            print(f"compliance pass over this quarter's bodies (background): {took:.0f} s")
            report(client, "/review (cached figures)", "/review", args.runs)
            store.append([AuditEvent(type="feedback", actor="U1", suggestion_set_id=set_id, helpful=True)])
            report(client, "/review right after an append (figures up to 15 s old reused)", "/review", 1)
            report(client, "/review?team=west (new filter: figures computed)", "/review?team=west", 1)
            report(client, "/review over the whole log (figures computed)", "/review?since=2000-01-01", 1)
            report(
                client,
                "/review/sets (filtered: team east, competitor)",
                "/review/sets?team=east&competitor=StarMap",
                args.runs,
            )
            report(client, "/review/sets?page=20", "/review/sets?page=20", args.runs)
            report(client, f"timeline /review/sets/{set_id}", f"/review/sets/{set_id}", args.runs)
            report(client, "/review/charts", "/review/charts", args.runs)
            if args.screenshots:
                screenshots(url, set_id, args.screenshots)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (log, index, server, client): {rss:,.0f} MB")
    print(f"load after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


def report(client: httpx.Client, label: str, path: str, runs: int) -> None:
    times = timed(client, path, runs)
    print(f"{label}: median {statistics.median(times):,.0f} ms, max {max(times):,.0f} ms ({runs} runs)")


def screenshots(url: str, set_id: str, folder: Path) -> None:
    from playwright.sync_api import sync_playwright

    folder.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"]
        )
        for name, viewport in (
            ("", {"width": 1280, "height": 900}),
            ("-phone", {"width": 390, "height": 844}),
        ):
            page = browser.new_page(viewport=viewport)
            page.goto(f"{url}/review/signin")
            page.fill("#token", MANAGER)
            page.click("#signin button")
            page.wait_for_url(f"{url}/review")
            page.screenshot(path=str(folder / f"review-dashboard{name}.png"), full_page=True)
            if not name:  # the phone view of the dashboard shows the layout; the rest at desktop size
                page.goto(f"{url}/review/sets/{set_id}")
                page.screenshot(path=str(folder / "review-timeline.png"), full_page=True)
                page.goto(f"{url}/review/charts")
                page.screenshot(path=str(folder / "review-charts.png"), full_page=True)
            page.close()
        browser.close()
    print(f"screenshots in {folder}")


if __name__ == "__main__":
    main()
