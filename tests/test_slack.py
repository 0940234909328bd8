"""The Slack app through real HTTP: signed requests in, a fake Slack Web API recording what we call."""

from __future__ import annotations

import base64
import json
import logging
import stat
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_server import serve_in_thread
from slack_fake import FakeSlack, SlackSender, buttons, fake_slack

from audit import AuditEvent, SQLiteAuditStore
from copilot import Copilot, Settings
from copilot._app import create_app
from knowledge import BilingualEmbedding, ChromaAtomStore, ingest_atoms, load_atoms

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SECRET = "test-signing-secret"
CUSTOMER_TEXT = "方案我们技术这边认可了，但价格比预算高不少，极光数仓报价便宜20%。"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, embedding: BilingualEmbedding) -> Iterator[Copilot]:
    home = tmp_path_factory.mktemp("slack-engine")
    settings = Settings(home=home)
    store = ChromaAtomStore.embedded(settings.chroma_path, "atoms", embedding)
    ingest_atoms(load_atoms(EXAMPLES / "kb"), store)
    copilot = Copilot(
        settings, store, SQLiteAuditStore(settings.audit_path), today=lambda: date(2026, 11, 22)
    )
    yield copilot
    copilot.close()


@dataclass
class Running:
    fake: FakeSlack
    slack: SlackSender
    url: str
    engine: Copilot

    def events(self, type: str, set_id: str) -> list[AuditEvent]:
        return [e for e in self.engine.audit.events(type=type) if e.suggestion_set_id == set_id]

    def wait_for_event(self, type: str, set_id: str, timeout: float = 10) -> None:
        """The app logs in the background: poll the audit log (another thread writes it)."""
        deadline = time.monotonic() + timeout
        while not self.events(type, set_id) and time.monotonic() < deadline:
            time.sleep(0.02)

    def answer(self, rid: str) -> dict[str, Any]:
        return self.fake.wait_for(f"/response/{rid}", lambda c: bool(c.body.get("blocks")))[0].body


@contextmanager
def serve_slack(tmp_path: Path, engine: Copilot, **settings: Any) -> Iterator[Running]:
    """The app in a thread on 127.0.0.1, Slack pointed at a fresh fake."""
    with fake_slack() as fake:
        config = Settings(
            home=tmp_path / "home",
            slack_signing_secret=SECRET,
            slack_bot_token="xoxb-test",
            slack_api_url=f"{fake.url}/api/",
            **settings,
        )
        with serve_in_thread(create_app(config, copilot=engine)) as url, SlackSender(url, SECRET) as sender:
            yield Running(fake, sender, url, engine)


@pytest.fixture
def running(tmp_path: Path, engine: Copilot) -> Iterator[Running]:
    with serve_slack(tmp_path, engine) as run:
        yield run


def set_deal(run: Running) -> None:
    reply = run.slack.command(
        'deal customer="华东精工 集团" industry=manufacturing stage=proposal', run.fake, "d"
    )
    assert reply.status_code == 200
    assert (
        "Deal set: 华东精工 集团 · manufacturing · proposal"
        in run.fake.wait_for("/response/d")[0].body["text"]
    )


def test_auth_test_at_start_goes_to_the_configured_api_url(running: Running) -> None:
    [call] = running.fake.find("/api/auth.test")
    assert call.auth == "Bearer xoxb-test"


def test_url_verification_and_bad_signatures(running: Running, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    challenge = {"type": "url_verification", "challenge": "c-123", "token": "t"}
    ok = running.slack.event(challenge)
    assert ok.status_code == 200 and "c-123" in ok.text
    secret_text = {
        "type": "event_callback",
        "event_id": "Ev9",
        "event": {"type": "message", "text": "SECRET-TEXT"},
    }
    assert running.slack.event(secret_text, secret="wrong").status_code == 401
    assert running.slack.event(secret_text, timestamp=int(time.time()) - 301).status_code == 401
    assert running.slack.event(secret_text, timestamp=int(time.time()) + 301).status_code == 401
    unsigned = running.slack.post(b"{}", "application/json", headers={"X-Slack-Signature": ""})
    assert unsigned.status_code == 401
    assert running.slack.post(b"\xff\xfe{}", "application/json").status_code == 400
    assert running.slack.post(b"x" * (600 * 1024), "application/json").status_code == 413
    assert "SECRET-TEXT" not in caplog.text
    assert [c.path for c in running.fake.calls] == ["/api/auth.test"]


def test_deal_is_set_shown_and_refused_when_wrong(running: Running) -> None:
    set_deal(running)
    running.slack.command("deal product=“MES Cloud”", running.fake, "p")
    assert "MES Cloud" in running.fake.wait_for("/response/p")[0].body["text"]
    running.slack.command("deal", running.fake, "s")
    shown = running.fake.wait_for("/response/s")[0].body["text"]
    assert shown == "Deal for this channel: 华东精工 集团 · manufacturing · proposal · MES Cloud"
    running.slack.command("deal stage=closed-won", running.fake, "bad")
    assert "unknown stage 'closed-won'" in running.fake.wait_for("/response/bad")[0].body["text"]
    running.slack.command("deal budget=10", running.fake, "bad2")
    assert "unknown deal field 'budget'" in running.fake.wait_for("/response/bad2")[0].body["text"]


def test_suggest_answers_the_rep_privately_with_buttons(running: Running) -> None:
    set_deal(running)
    reply = running.slack.command("", running.fake, "1")
    assert reply.status_code == 200 and reply.text == ""  # acked empty; the answer comes separately
    answer = running.answer("1")
    assert answer["response_type"] == "ephemeral"
    text = json.dumps(answer["blocks"], ensure_ascii=False)
    assert "极光数仓" in text  # the competitor answer
    assert sum(1 for b in buttons(answer["blocks"]) if b["action_id"] == "copilot_send") == 3
    [shown] = [e for e in running.engine.audit.events(type="suggestion_shown") if e.actor == "U0REP"][-1:]
    sides = {p["id"]: (p["side"], p.get("title")) for p in shown.input["participants"]}
    assert sides == {"U0REP": ("rep", "Account Executive"), "U0CUST": ("customer", "CTO")}
    assert shown.input["deal"]["customer"] == "华东精工 集团"
    assert running.fake.find("/api/conversations.history")


def test_shortcut_reads_the_thread_and_posts_in_it(running: Running) -> None:
    running.fake.history.append(
        {
            "type": "message",
            "user": "U0CUST",
            "ts": "1795000002.000100",
            "thread_ts": "1795000001.000100",
            "text": "Can you match AuroraDW's price?",
        }
    )
    payload = {
        "type": "message_action",
        "callback_id": "suggest_reply",
        "trigger_id": "trigger-sc",
        "user": {"id": "U0REP", "team_id": "T0HOME"},
        "team": {"id": "T0HOME"},
        "channel": {"id": "C0DEAL"},
        "message": {
            "type": "message",
            "user": "U0CUST",
            "ts": "1795000002.000100",
            "thread_ts": "1795000001.000100",
        },
        "response_url": f"{running.fake.url}/response/sc",
    }
    assert running.slack.interaction(payload).status_code == 200
    [post] = running.fake.wait_for("/api/chat.postEphemeral")
    assert post.body["user"] == "U0REP" and post.body["thread_ts"] == "1795000001.000100"
    [replies] = running.fake.find("/api/conversations.replies")
    assert replies.body["ts"] == "1795000001.000100"


def test_retried_and_replayed_deliveries_are_processed_once(running: Running) -> None:
    set_deal(running)
    for retry in ("", "1", "2"):
        headers = {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        assert running.slack.command("", running.fake, "same", headers=headers).status_code == 200
    running.answer("same")
    running.slack.command("", running.fake, "after")  # a later press is answered: the first is done
    running.answer("after")
    assert len(running.fake.find("/response/same")) == 1


def test_send_posts_in_the_chat_and_logs_sent_as_is_once(running: Running) -> None:
    set_deal(running)
    running.slack.command("", running.fake, "1")
    send = [b for b in buttons(running.answer("1")["blocks"]) if b["action_id"] == "copilot_send"][1]
    set_id = json.loads(send["value"])["s"]
    assert running.slack.click(send, running.fake, "c1").status_code == 200
    [posted] = running.fake.wait_for("/api/chat.postMessage")
    assert posted.body["channel"] == "C0DEAL" and "<@U0REP>" in json.dumps(posted.body["blocks"])
    running.fake.wait_for("/response/c1", lambda c: c.body.get("replace_original") is True)
    [action] = running.events("rep_action", set_id)
    assert action.action == "sent_as_is" and action.suggestion_index == 1
    running.slack.click(send, running.fake, "c2")  # a second final action is refused, politely
    refused = running.fake.wait_for("/api/chat.postEphemeral")[0].body["text"]
    assert "already" in refused.lower()
    assert len(running.fake.find("/api/chat.postMessage")) == 1


def test_feedback_edit_and_dismiss(running: Running) -> None:
    set_deal(running)
    running.slack.command("", running.fake, "1")
    controls = buttons(running.answer("1")["blocks"])
    helpful = next(b for b in controls if b["action_id"] == "copilot_helpful_yes")
    set_id = json.loads(helpful["value"])["s"]
    running.slack.click(helpful, running.fake, "h")
    edit = next(b for b in controls if b["action_id"] == "copilot_edit")
    running.slack.click(edit, running.fake, "e")
    [opened] = running.fake.wait_for("/api/views.open")
    view = opened.body["view"]
    original = view["blocks"][0]["element"]["initial_value"]
    submission = {
        "type": "view_submission",
        "user": {"id": "U0REP", "team_id": "T0HOME"},
        "team": {"id": "T0HOME"},
        "trigger_id": "trigger-v",
        "view": {
            "id": "V0VIEW",
            "type": "modal",
            "hash": "h1",
            "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "state": {
                "values": {"reply": {"text": {"type": "plain_text_input", "value": original + " 谢谢！"}}}
            },
        },
    }
    assert running.slack.interaction(submission).status_code == 200
    [posted] = running.fake.wait_for("/api/chat.postMessage")
    assert posted.body["text"].endswith("谢谢！")
    running.wait_for_event("rep_action", set_id)
    [feedback] = running.events("feedback", set_id)
    assert feedback.helpful is True and feedback.suggestion_index == 0
    [action] = running.events("rep_action", set_id)
    assert action.action == "edited" and action.edit_distance == len(" 谢谢！")
    running.slack.command("", running.fake, "2")
    dismiss = next(b for b in buttons(running.answer("2")["blocks"]) if b["action_id"] == "copilot_dismiss")
    running.slack.click(dismiss, running.fake, "x")
    running.fake.wait_for("/response/x", lambda c: c.body.get("delete_original") is True)
    [dismissed] = running.events("rep_action", json.loads(dismiss["value"])["s"])
    assert dismissed.action == "dismissed"


def message_event(event_id: str, user: str, text: str) -> dict[str, Any]:
    return {
        "type": "event_callback",
        "team_id": "T0HOME",
        "api_app_id": "A0APP",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event": {
            "type": "message",
            "channel": "C0DEAL",
            "user": user,
            "text": text,
            "ts": f"{time.time():.6f}",
        },
    }


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (lambda s: s, "sent_as_is"),
        (lambda s: s[:-2] + "！！", "edited"),
        (lambda s: "Li Ming, I'll call you at 3pm.", "wrote_own"),
    ],
)
def test_a_reply_typed_after_suggestions_is_the_reps_action(
    running: Running, typed: Any, expected: str
) -> None:
    set_deal(running)
    running.slack.command("", running.fake, "1")
    first = next(b for b in buttons(running.answer("1")["blocks"]) if b["action_id"] == "copilot_send")
    set_id = json.loads(first["value"])["s"]
    output = running.events("suggestion_shown", set_id)[0].output or {}
    shown = output["suggestions"][0]["text"]
    running.slack.event(message_event("EvOther", "U0CUST", "customer talk is not the rep's action"))
    for retry in ("", "1"):  # Slack retries the event: processed once
        running.slack.event(
            message_event("EvRep", "U0REP", typed(shown)), headers={"X-Slack-Retry-Num": retry}
        )
    running.wait_for_event("rep_action", set_id)
    [action] = running.events("rep_action", set_id)
    assert action.action == expected
    assert "Li Ming" not in (action.final_text or "")  # the customer's name is logged as a pseudonym


def test_no_request_body_reaches_the_logs(running: Running, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    set_deal(running)
    running.slack.command("", running.fake, "1")
    running.answer("1")
    assert "价格比预算高" not in caplog.text and "华东精工" not in caplog.text


def test_customer_text_cannot_mention_or_link(running: Running) -> None:
    """Markup in a deal field is refused (deal fields are plain names), never echoed raw."""
    running.slack.command('deal customer="<!channel> ACME <https://evil.test|click>"', running.fake, "d")
    [refusal] = running.fake.wait_for("/response/d")
    said = json.dumps(refusal.body, ensure_ascii=False)
    assert "invalid deal" in said and "customer" in said
    assert "<!channel>" not in said and "<https://evil.test" not in said
    running.slack.command("", running.fake, "1")
    text = json.dumps(running.answer("1")["blocks"], ensure_ascii=False)
    assert "<!channel>" not in text and "<https://evil.test" not in text


def test_a_busy_engine_tells_the_rep_to_retry(running: Running) -> None:
    """Past COPILOT_MAX_WAITING_PRESSES the press is acked, then the rep is told to retry."""
    set_deal(running)
    lanes = running.engine.lanes
    held = [lanes.ticket() for _ in range(lanes.max_waiting)]  # presses still waiting their turn
    try:
        assert running.slack.command("", running.fake, "busy").status_code == 200
        [told] = running.fake.wait_for("/response/busy")
    finally:
        for ticket in held:
            ticket.done()
    assert "busy" in told.body["text"] and "again" in told.body["text"]
    assert running.slack.command("", running.fake, "after").status_code == 200
    assert "极光数仓" in json.dumps(running.answer("after")["blocks"], ensure_ascii=False)


def test_serve_records_ignored_for_sets_left_alone(tmp_path: Path, engine: Copilot) -> None:
    """The app's audit sweep: a set with no action within the window becomes ``ignored``
    (once, though it sweeps again and again)."""
    with serve_slack(tmp_path, engine, action_window_hours=0.5 / 3600, audit_sweep_s=0.1) as run:
        run.slack.command("", run.fake, "1")
        send = next(b for b in buttons(run.answer("1")["blocks"]) if b["action_id"] == "copilot_send")
        set_id = json.loads(send["value"])["s"]
        run.wait_for_event("rep_action", set_id)
        [ignored] = run.events("rep_action", set_id)
        assert ignored.action == "ignored" and "no action within" in ignored.reason
        run.slack.click(send, run.fake, "late")  # too late: the rep is told, nothing is added
        refused = run.fake.wait_for("/api/chat.postEphemeral")[0].body["text"]
        assert "already" in refused.lower()
        assert len(run.events("rep_action", set_id)) == 1


CLIENT = {"slack_client_id": "123.456", "slack_client_secret": "client-secret-for-tests"}
USER_TOKEN = "xoxp-rep-user-token-secret"


def grant(user: str = "U0REP", token: str = USER_TOKEN, scope: str = "chat:write") -> dict[str, Any]:
    """What oauth.v2.access answers for a user-scope-only install."""
    return {
        "ok": True,
        "app_id": "A0APP",
        "authed_user": {"id": user, "scope": scope, "access_token": token, "token_type": "user"},
        "team": {"id": "T0HOME"},
        "enterprise": None,
    }


def connect(run: Running, rid: str, user: str = "U0REP") -> dict[str, str]:
    """``/suggest connect``: the link button's URL, as its query parameters."""
    run.slack.command("connect", run.fake, rid, user=user)
    [answer] = run.fake.wait_for(f"/response/{rid}")
    [link] = [b for b in buttons(answer.body["blocks"]) if "url" in b]
    url = urllib.parse.urlsplit(link["url"])
    assert f"{url.scheme}://{url.netloc}" == run.fake.url and url.path == "/oauth/v2/authorize"
    return dict(urllib.parse.parse_qsl(url.query))


def test_connected_rep_sends_as_themselves_until_the_token_dies(
    tmp_path: Path, engine: Copilot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with serve_slack(tmp_path, engine, **CLIENT) as run:
        query = connect(run, "c")
        assert query["client_id"] == "123.456" and query["user_scope"] == "chat:write"
        run.fake.oauth["code-1"] = grant()
        back = httpx.get(
            f"{run.url}/slack/oauth_redirect", params={"code": "code-1", "state": query["state"]}
        )
        assert back.status_code == 200 and "Connected" in back.text
        assert back.headers["cache-control"] == "no-store" and USER_TOKEN not in back.text
        [exchange] = run.fake.find("/api/oauth.v2.access")
        assert exchange.body == {"client_id": "123.456", "client_secret": CLIENT["slack_client_secret"]} | {
            "code": "code-1"
        }
        assert exchange.auth == ""  # not the bot token
        replay = httpx.get(
            f"{run.url}/slack/oauth_redirect", params={"code": "code-1", "state": query["state"]}
        )
        assert replay.status_code == 400 and "already used" in replay.text
        state_file = tmp_path / "home" / "state.sqlite3"
        for part in (tmp_path / "home").glob("state.sqlite3*"):  # the file and its WAL: sealed at rest
            assert USER_TOKEN.encode() not in part.read_bytes()
        assert stat.S_IMODE(state_file.stat().st_mode) == 0o600

        set_deal(run)
        run.slack.command("", run.fake, "1")
        send = next(b for b in buttons(run.answer("1")["blocks"]) if b["action_id"] == "copilot_send")
        run.slack.click(send, run.fake, "s1")
        [posted] = run.fake.wait_for("/api/chat.postMessage")
        assert posted.auth == f"Bearer {USER_TOKEN}" and "blocks" not in posted.body  # the rep's own message
        run.wait_for_event("rep_action", json.loads(send["value"])["s"])

        run.fake.revoked.add(USER_TOKEN)  # the rep removed the app from their account
        run.slack.command("", run.fake, "2")
        send = next(b for b in buttons(run.answer("2")["blocks"]) if b["action_id"] == "copilot_send")
        run.slack.click(send, run.fake, "s2")
        posts = run.fake.wait_for("/api/chat.postMessage", count=3)
        assert posts[1].auth == f"Bearer {USER_TOKEN}" and posts[2].auth == "Bearer xoxb-test"
        assert "<@U0REP>" in json.dumps(posts[2].body["blocks"])
        told = run.fake.wait_for("/api/chat.postEphemeral", lambda c: "connect" in c.body["text"])
        assert told[0].body["user"] == "U0REP"
        run.slack.command("", run.fake, "3")
        send = next(b for b in buttons(run.answer("3")["blocks"]) if b["action_id"] == "copilot_send")
        run.slack.click(send, run.fake, "s3")
        posts = run.fake.wait_for("/api/chat.postMessage", count=4)
        assert posts[3].auth == "Bearer xoxb-test"  # the dead token was dropped, not tried again
    logged = [json.dumps(e.model_dump(mode="json")) for e in engine.audit.events()]
    assert not [line for line in logged if USER_TOKEN in line]
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("copilot", "uvicorn")))
    assert USER_TOKEN not in ours and "code-1" not in ours


def test_connect_refuses_forged_foreign_and_declined_installs(tmp_path: Path, engine: Copilot) -> None:
    with serve_slack(tmp_path, engine, **CLIENT) as run:
        redirect = f"{run.url}/slack/oauth_redirect"
        forged = httpx.get(redirect, params={"code": "c", "state": "e30.0000"})
        assert forged.status_code == 400 and "not one Sales Copilot made" in forged.text
        state = connect(run, "c")["state"]
        data, mac = state.split(".")
        claims = json.loads(base64.urlsafe_b64decode(data))
        tampered = base64.urlsafe_b64encode(json.dumps(claims | {"u": "U0REP2"}).encode()).decode()
        assert httpx.get(redirect, params={"code": "c", "state": f"{tampered}.{mac}"}).status_code == 400
        run.fake.oauth["code-2"] = grant(user="U0REP2", token="xoxp-someone-else")
        foreign = httpx.get(redirect, params={"code": "code-2", "state": state})
        assert foreign.status_code == 400 and "another Slack user" in foreign.text
        [revoke] = run.fake.find("/api/auth.revoke")  # the stray token is not kept
        assert revoke.auth == "Bearer xoxp-someone-else"
        declined = httpx.get(redirect, params={"error": "access_denied", "state": state})
        assert declined.status_code == 200 and "Not connected" in declined.text
        run.slack.command("disconnect", run.fake, "d")
        assert "not connected" in run.fake.wait_for("/response/d")[0].body["text"]

        state = connect(run, "c2")["state"]
        run.fake.oauth["code-3"] = grant()
        assert httpx.get(redirect, params={"code": "code-3", "state": state}).status_code == 200
        run.slack.command("disconnect", run.fake, "d2")
        assert "Disconnected" in run.fake.wait_for("/response/d2")[0].body["text"]
        assert USER_TOKEN in run.fake.revoked


def test_connect_without_an_oauth_client_explains_who_enables_it(running: Running) -> None:
    running.slack.command("connect", running.fake, "c")
    text = running.fake.wait_for("/response/c")[0].body["text"]
    assert "COPILOT_SLACK_CLIENT_ID" in text
    assert httpx.get(f"{running.url}/slack/oauth_redirect").status_code == 404
