"""``copilot serve``'s app: health, readiness, which platforms mount."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from asgi_server import serve_in_thread

from audit import AuditEvent, SQLiteAuditStore, sweep_forever
from copilot import Copilot, Settings
from copilot._app import create_app, mount_plan
from knowledge import BilingualEmbedding, ChromaAtomStore, ingest_atoms, load_atoms

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def engine(tmp_path: Path, embedding: BilingualEmbedding) -> Iterator[Copilot]:
    settings = Settings(home=tmp_path / "home")
    store = ChromaAtomStore.embedded(settings.chroma_path, "atoms", embedding)
    copilot = Copilot(settings, store, SQLiteAuditStore(tmp_path / "audit.sqlite3"))
    yield copilot
    copilot.close()


def test_health_and_readiness(engine: Copilot) -> None:
    app = create_app(engine.settings, copilot=engine)
    with serve_in_thread(app) as url:
        health = httpx.get(f"{url}/healthz")
        assert health.status_code == 200
        assert health.json() == {"ok": True, "checks": {"state": "ok", "audit": "ok", "atoms": "ok"}}
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 503
        assert "knowledge base is empty" in ready.json()["problems"][0]
        ingest_atoms(load_atoms(EXAMPLES / "kb"), engine.store)
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        assert httpx.post(f"{url}/slack/events").status_code == 404  # Slack is not configured


def test_healthz_is_503_when_a_store_fails(engine: Copilot) -> None:
    app = create_app(engine.settings, copilot=engine)
    with serve_in_thread(app) as url:
        engine.audit.close()
        health = httpx.get(f"{url}/healthz")
        assert health.status_code == 503
        assert health.json()["checks"]["audit"] == "failed"


def test_a_platform_without_its_settings_is_not_mounted(tmp_path: Path) -> None:
    plans = {p.platform: p for p in mount_plan(Settings(home=tmp_path))}
    assert not plans["slack"].mounted
    assert "COPILOT_SLACK_SIGNING_SECRET" in plans["slack"].reason
    assert "COPILOT_SLACK_BOT_TOKEN" in plans["slack"].reason
    slack = Settings(home=tmp_path, slack_signing_secret="s", slack_bot_token="xoxb-1")
    assert {p.platform: p for p in mount_plan(slack)}["slack"].mounted


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_says_what_is_mounted_and_answers_health(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPILOT_SLACK")}
    env["COPILOT_HOME"] = str(tmp_path / "home")
    copilot = Path(sys.executable).parent / "copilot"
    proc = subprocess.Popen(
        [str(copilot), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "Uvicorn running" in line or "Application startup complete" in line:
                break
        output = "".join(lines)
        assert "slack: not mounted (set COPILOT_SLACK_SIGNING_SECRET" in output
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_every_workers_sweeper_records_each_set_once_quietly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``serve`` runs ``audit.sweep_forever`` in every worker: sweepers racing over one
    log record one ``ignored`` per set, and the refused duplicates make no noise."""
    path = tmp_path / "audit.sqlite3"
    old = datetime.now(UTC) - timedelta(hours=2)
    with SQLiteAuditStore(path) as store:
        store.append([_shown(f"ss-{n}", old) for n in range(30)])

    async def two_workers() -> None:
        stores = [SQLiteAuditStore(path), SQLiteAuditStore(path)]
        sweepers = [asyncio.create_task(sweep_forever(s, timedelta(hours=1), every_s=0.01)) for s in stores]
        try:
            while len(list(stores[0].events(type="rep_action"))) < 30:
                await asyncio.sleep(0.01)  # the sweepers write from their threads
            for _ in range(3):  # a few more rounds of both sweepers finding nothing left to do
                await asyncio.sleep(0.02)
        finally:
            for task in sweepers:
                task.cancel()
            await asyncio.gather(*sweepers, return_exceptions=True)
            for store in stores:
                store.close()

    caplog.set_level(logging.INFO)
    asyncio.run(two_workers())
    with SQLiteAuditStore(path) as store:
        actions = list(store.events(type="rep_action"))
        assert sorted(e.suggestion_set_id for e in actions) == sorted(f"ss-{n}" for n in range(30))
        assert {e.action for e in actions} == {"ignored"} and store.verify().ok
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def _shown(set_id: str, at: datetime) -> AuditEvent:
    return AuditEvent(
        type="suggestion_shown",
        at=at,
        actor="U1",
        conversation_id="slack:C1",
        suggestion_set_id=set_id,
        output={"suggestions": [{"text": "Let us book a call.", "citations": ["obj-a"], "legal_basis": []}]},
        engine="grounded",
        atoms={"obj-a": 1},
    )
