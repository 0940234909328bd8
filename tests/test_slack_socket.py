"""Slack over Socket Mode, for real: ``apps.connections.open`` on the fake Web API hands
out a ``ws://`` URL on 127.0.0.1 where a fake Socket Mode server sends envelopes and
records the app's acknowledgements."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest
from asgi_server import serve_in_thread
from slack_fake import TEAM, FakeSlack, buttons, fake_slack
from slack_socket_fake import SocketModeFake, socket_mode_fake

from audit import SQLiteAuditStore
from copilot import Copilot, Settings
from copilot._app import create_app
from knowledge import BilingualEmbedding, ChromaAtomStore, ingest_atoms, load_atoms

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, embedding: BilingualEmbedding) -> Iterator[Copilot]:
    home = tmp_path_factory.mktemp("slack-socket-engine")
    settings = Settings(home=home)
    store = ChromaAtomStore.embedded(settings.chroma_path, "atoms", embedding)
    ingest_atoms(load_atoms(EXAMPLES / "kb"), store)
    copilot = Copilot(
        settings, store, SQLiteAuditStore(settings.audit_path), today=lambda: date(2026, 11, 22)
    )
    yield copilot
    copilot.close()


@dataclass
class Socket:
    fake: FakeSlack
    ws: SocketModeFake
    url: str
    engine: Copilot


@pytest.fixture
def socket_app(tmp_path: Path, engine: Copilot) -> Iterator[Socket]:
    with fake_slack() as fake, socket_mode_fake() as ws:
        fake.socket_url = ws.url
        settings = Settings(
            home=tmp_path / "home",
            slack_bot_token="xoxb-socket",
            slack_app_token="xapp-1-socket",
            slack_socket_mode=True,
            slack_api_url=f"{fake.url}/api/",
        )
        with serve_in_thread(create_app(settings, copilot=engine)) as url:
            yield Socket(fake, ws, url, engine)


def command(fake: FakeSlack, rid: str, text: str = "") -> dict[str, str]:
    return {
        "command": "/suggest",
        "text": text,
        "team_id": TEAM,
        "channel_id": "C0DEAL",
        "user_id": "U0REP",
        "api_app_id": "A0APP",
        "trigger_id": f"trigger-{rid}",
        "response_url": f"{fake.url}/response/{rid}",
    }


def test_connects_with_the_app_token_and_mounts_no_http_route(socket_app: Socket) -> None:
    socket_app.ws.wait_connected()
    [opened] = socket_app.fake.find("/api/apps.connections.open")
    assert opened.auth == "Bearer xapp-1-socket"
    [auth] = socket_app.fake.find("/api/auth.test")
    assert auth.auth == "Bearer xoxb-socket"
    assert httpx.post(f"{socket_app.url}/slack/events", content=b"{}").status_code == 404
    assert httpx.get(f"{socket_app.url}/readyz").json()["platforms"] == ["slack"]


def test_press_over_the_socket_is_acked_answered_and_clicked(
    socket_app: Socket, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake, ws = socket_app.fake, socket_app.ws
    deal = ws.deliver("slash_commands", command(fake, "d", 'deal customer="华东精工" stage=proposal'))
    ws.wait_for_ack(deal)
    assert "Deal set: 华东精工" in fake.wait_for("/response/d")[0].body["text"]
    started = time.monotonic()
    press = ws.deliver("slash_commands", command(fake, "p"))
    [ack] = ws.wait_for_ack(press)
    assert time.monotonic() - started < 3  # acked before the work, well within Slack's limit
    assert set(ack) <= {"envelope_id", "payload"}
    ws.deliver("slash_commands", command(fake, "p"), envelope_id=press, retry=1)  # redelivered
    ws.wait_for_ack(press, count=2)
    [answer] = fake.wait_for("/response/p", lambda c: bool(c.body.get("blocks")))
    assert "极光数仓" in json.dumps(answer.body["blocks"], ensure_ascii=False)

    send = next(b for b in buttons(answer.body["blocks"]) if b["action_id"] == "copilot_send")
    set_id = json.loads(send["value"])["s"]
    click = {
        "type": "block_actions",
        "user": {"id": "U0REP", "team_id": TEAM},
        "team": {"id": TEAM},
        "api_app_id": "A0APP",
        "channel": {"id": "C0DEAL"},
        "container": {"type": "message", "is_ephemeral": True, "channel_id": "C0DEAL"},
        "trigger_id": "trigger-click",
        "response_url": f"{fake.url}/response/click",
        "actions": [
            {"type": "button", "action_id": "copilot_send", "block_id": "b", "value": send["value"]}
            | {"action_ts": f"{time.time():.6f}"}
        ],
    }
    ws.wait_for_ack(ws.deliver("interactive", click))
    [posted] = fake.wait_for("/api/chat.postMessage")
    assert posted.body["channel"] == "C0DEAL" and posted.auth == "Bearer xoxb-socket"
    fake.wait_for("/response/click", lambda c: c.body.get("replace_original") is True)
    actions = [e for e in socket_app.engine.audit.events(type="rep_action") if e.suggestion_set_id == set_id]
    assert [a.action for a in actions] == ["sent_as_is"]
    assert len(fake.find("/response/p")) == 1  # the redelivery was not processed again
    ours = [r.getMessage() for r in caplog.records if r.name.startswith(("copilot", "slack", "aiohttp"))]
    assert ours and not [m for m in ours if "价格比预算高" in m or "华东精工" in m]  # no payload logged
