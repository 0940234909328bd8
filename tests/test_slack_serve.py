"""The whole Slack flow through a running ``copilot serve`` (1 and 4 workers):
press -> suggestions posted -> click -> audit event, a typed reply recorded as `edited`
with its edit distance; duplicates processed once."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from slack_fake import FakeSlack, SlackSender, buttons, fake_slack
from slack_socket_fake import socket_mode_fake

from audit import AuditEvent, SQLiteAuditStore

ROOT = Path(__file__).resolve().parent.parent
COPILOT = Path(sys.executable).parent / "copilot"
SECRET = "serve-secret"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("serve-home")
    env = {**os.environ, "COPILOT_HOME": str(home)}
    subprocess.run(
        [str(COPILOT), "knowledge", "ingest", str(ROOT / "examples" / "kb")],
        env=env,
        check=True,
        capture_output=True,
    )
    return home


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=[1, 4], ids=["1-worker", "4-workers"])
def served(
    request: pytest.FixtureRequest, home: Path, tmp_path: Path
) -> Iterator[tuple[FakeSlack, SlackSender]]:
    workers = int(request.param)
    with fake_slack() as fake:
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("COPILOT_")}
        env.update(
            COPILOT_HOME=str(home),
            COPILOT_SLACK_SIGNING_SECRET=SECRET,
            COPILOT_SLACK_BOT_TOKEN="xoxb-serve",
            COPILOT_SLACK_API_URL=f"{fake.url}/api/",
        )
        log = (tmp_path / "serve.log").open("wb")
        proc = subprocess.Popen(
            [str(COPILOT), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            # every worker calls auth.test once it has loaded, before it accepts requests
            deadline = time.monotonic() + 180
            while len(fake.find("/api/auth.test")) < workers:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "workers did not start in 180 s"
                with contextlib.suppress(AssertionError):
                    fake.wait_for("/api/auth.test", count=workers, timeout=0.5)
            _wait_ready(f"http://127.0.0.1:{port}")
            with SlackSender(f"http://127.0.0.1:{port}", SECRET) as sender:
                yield fake, sender
        finally:
            proc.terminate()
            proc.wait(timeout=60)
            log.close()


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "/readyz never answered 200"
        time.sleep(0.1)  # polling an external process: nothing to wait on but the socket


def test_press_suggest_click_audit(served: tuple[FakeSlack, SlackSender], home: Path) -> None:
    fake, slack = served
    run = f"{time.monotonic_ns()}"
    slack.command('deal customer="华东精工" industry=manufacturing stage=proposal', fake, f"d{run}")
    fake.wait_for(f"/response/d{run}")
    assert slack.command("", fake, f"p{run}").status_code == 200  # the ack; timings: benchmarks/
    [answer] = fake.wait_for(f"/response/p{run}", lambda c: bool(c.body.get("blocks")))
    assert "极光数仓" in json.dumps(answer.body["blocks"], ensure_ascii=False)
    send = next(b for b in buttons(answer.body["blocks"]) if b["action_id"] == "copilot_send")
    set_id = json.loads(send["value"])["s"]
    slack.click(send, fake, f"c{run}")
    fake.wait_for("/api/chat.postMessage")
    [clicked] = _rep_actions(home, set_id)
    assert clicked.action == "sent_as_is" and clicked.suggestion_index == 0

    # The next press, answered by a reply the rep types in the channel (a close edit).
    slack.command("", fake, f"q{run}")
    [answer] = fake.wait_for(f"/response/q{run}", lambda c: bool(c.body.get("blocks")))
    second = next(b for b in buttons(answer.body["blocks"]) if b["action_id"] == "copilot_send")
    second_id = json.loads(second["value"])["s"]
    with SQLiteAuditStore(home / "audit.sqlite3") as audit:
        [shown] = [e for e in audit.events(type="suggestion_shown") if e.suggestion_set_id == second_id]
    typed = (shown.output or {})["suggestions"][1]["text"] + " 谢谢！"
    event = {
        "type": "event_callback",
        "team_id": "T0HOME",
        "api_app_id": "A0APP",
        "event_id": f"Ev{run}",
        "event_time": int(time.time()),
        "event": {"type": "message", "channel": "C0DEAL", "user": "U0REP", "text": typed, "ts": "1.000200"},
    }
    assert slack.event(event).status_code == 200
    [edited] = _rep_actions(home, second_id)
    assert edited.action == "edited" and edited.suggestion_index == 1
    assert edited.edit_distance == len(" 谢谢！")
    with SQLiteAuditStore(home / "audit.sqlite3") as audit:
        assert audit.verify().ok


def _rep_actions(home: Path, set_id: str) -> list[AuditEvent]:
    """The set's rep_action events, once one is there (another process writes them)."""
    deadline = time.monotonic() + 30
    with SQLiteAuditStore(home / "audit.sqlite3") as audit:
        while not (found := [e for e in audit.events(type="rep_action") if e.suggestion_set_id == set_id]):
            assert time.monotonic() < deadline, "no rep_action in the audit log"
            time.sleep(0.05)  # polling another process's writes
        return found


def test_retried_deliveries_are_processed_once_across_workers(served: tuple[FakeSlack, SlackSender]) -> None:
    fake, slack = served
    run = f"{time.monotonic_ns()}"
    slack.command('deal customer="华东精工" stage=proposal', fake, f"d{run}")
    fake.wait_for(f"/response/d{run}")
    rid = f"dup{run}"

    def deliver(retry: int) -> int:
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        return slack.command("", fake, rid, headers=headers).status_code

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(deliver, [0, 1, 2, 3, 0, 1, 2, 3])) == [200] * 8
    fake.wait_for(f"/response/{rid}", lambda c: bool(c.body.get("blocks")))
    slack.command("", fake, f"later{run}")  # the queue is drained once a later press is answered
    fake.wait_for(f"/response/later{run}", lambda c: bool(c.body.get("blocks")))
    assert len(fake.find(f"/response/{rid}")) == 1


def test_socket_mode_through_copilot_serve(home: Path, tmp_path: Path) -> None:
    """``copilot serve --slack-socket-mode``: connects with the app token, acks a press
    envelope and answers it, with no /slack/events route."""
    with fake_slack() as fake, socket_mode_fake() as ws:
        fake.socket_url = ws.url
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("COPILOT_")}
        env.update(
            COPILOT_HOME=str(home),
            COPILOT_SLACK_BOT_TOKEN="xoxb-serve",
            COPILOT_SLACK_APP_TOKEN="xapp-1-serve",
            COPILOT_SLACK_API_URL=f"{fake.url}/api/",
        )
        log = (tmp_path / "serve.log").open("wb")
        command = [str(COPILOT), "serve", "--slack-socket-mode", "--host", "127.0.0.1", "--port", str(port)]
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            ws.wait_connected(timeout=180)
            _wait_ready(f"http://127.0.0.1:{port}")
            run = f"{time.monotonic_ns()}"
            press = {
                "command": "/suggest",
                "text": "",
                "team_id": "T0HOME",
                "channel_id": "C0DEAL",
                "user_id": "U0REP",
                "api_app_id": "A0APP",
                "trigger_id": f"trigger-s{run}",
                "response_url": f"{fake.url}/response/s{run}",
            }
            ws.wait_for_ack(ws.deliver("slash_commands", press))
            [answer] = fake.wait_for(f"/response/s{run}", lambda c: bool(c.body.get("blocks")))
            assert answer.body["response_type"] == "ephemeral"
            assert fake.find("/api/apps.connections.open")[0].auth == "Bearer xapp-1-serve"
            assert httpx.post(f"http://127.0.0.1:{port}/slack/events", content=b"{}").status_code == 404
        finally:
            proc.terminate()
            proc.wait(timeout=60)
            log.close()
        assert "Socket Mode" in (tmp_path / "serve.log").read_text()
