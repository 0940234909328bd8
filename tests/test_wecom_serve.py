"""The whole WeCom flow through a running ``copilot serve`` subprocess: a pasted message, the
建议话术 tap, the answer card at the fake WeCom API, the 采用 tap, the rep_action in the audit log."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
from wecom_fakes import (
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    SECRET,
    TOKEN,
    card_event_xml,
    fake_wecom_server,
    signed_post,
    text_xml,
)

from audit import SQLiteAuditStore
from copilot import Settings
from knowledge import BilingualEmbedding, ChromaAtomStore, ingest_atoms, load_atoms

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_message_to_suggestions_to_button_to_audit_event(
    tmp_path: Path, embedding: BilingualEmbedding
) -> None:
    home = tmp_path / "home"
    settings = Settings(home=home)
    store = ChromaAtomStore.embedded(settings.chroma_path, "atoms", embedding)
    ingest_atoms(load_atoms(EXAMPLES / "kb"), store)
    store.close()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with fake_wecom_server() as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COPILOT_SLACK", "COPILOT_WECOM"))}
        env |= {
            "COPILOT_HOME": str(home),
            "COPILOT_WECOM_CORP_ID": CORP_ID,
            "COPILOT_WECOM_AGENT_ID": str(AGENT_ID),
            "COPILOT_WECOM_SECRET": SECRET,
            "COPILOT_WECOM_TOKEN": TOKEN,
            "COPILOT_WECOM_AES_KEY": AES_KEY,
            "COPILOT_WECOM_API_URL": fake.url,
        }
        copilot = Path(sys.executable).parent / "copilot"
        log = (tmp_path / "serve.log").open("w")
        proc = subprocess.Popen(
            [str(copilot), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "copilot serve was not ready in 120 s"
                with contextlib.suppress(subprocess.TimeoutExpired):  # wait a little, or notice it died
                    proc.wait(timeout=0.2)

            def deliver(inner: bytes) -> None:
                query, body = signed_post(inner)
                answer = httpx.post(f"{base}/wecom/callback?{urllib.parse.urlencode(query)}", content=body)
                assert answer.status_code == 200

            def cards() -> list[dict[str, Any]]:
                return [b["template_card"] for b in fake.sends("rep.lin") if b["msgtype"] == "template_card"]

            deliver(text_xml("rep.lin", "deal 客户=华东精工 行业=制造业 阶段=方案 产品=MES Cloud", "1"))
            deliver(text_xml("rep.lin", "李总：技术上认可了，但价格比预算高不少，极光数仓便宜两成。", "2"))
            fake.wait_for(lambda f: len(cards()) == 1)
            deliver(card_event_xml("rep.lin", "suggest", cards()[0]["task_id"], pick=None))
            fake.wait_for(lambda f: len(cards()) == 2)
            answer = cards()[1]
            assert answer["quote_area"]["title"] == "竞品 极光数仓"
            assert {"keyname": "客户", "value": "华东精工"} in answer["horizontal_content_list"]
            deliver(card_event_xml("rep.lin", f"adopt:{answer['task_id']}", answer["task_id"], pick="2"))
            fake.wait_for(
                lambda f: any(
                    b.get("button", {}).get("replace_name") == "已采用" for b in (c["body"] for c in f.calls)
                )
            )
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()
    audit = SQLiteAuditStore(settings.audit_path)
    try:
        shown = list(audit.events(type="suggestion_shown", suggestion_set_id=answer["task_id"]))
        [action] = list(audit.events(type="rep_action", suggestion_set_id=answer["task_id"]))
    finally:
        audit.close()
    assert len(shown) == 1 and shown[0].actor == "rep.lin"
    assert action.action == "sent_as_is" and action.suggestion_index == 2 and action.actor == "rep.lin"
    served_log = (tmp_path / "serve.log").read_text()
    assert SECRET not in served_log and "tok-" not in served_log and "李总" not in served_log
