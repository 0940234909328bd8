"""A fake Slack: a Web API server on 127.0.0.1 (port 0) that records every request,
and a client that signs requests to ``/slack/events`` exactly as Slack does.

Workspace T0HOME (bot U0BOT, reps U0REP and U0REP2, colleague U0MATE) shares channel
C0DEAL with customer team T0EXT (U0CUST, a CTO). ``history`` is what
conversations.history/replies return (newest first, as Slack does). Response URLs
are ``{url}/response/<id>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

TEAM, EXT = "T0HOME", "T0EXT"
USERS: dict[str, dict[str, Any]] = {
    "U0BOT": {"id": "U0BOT", "team_id": TEAM, "is_bot": True, "profile": {"real_name": "Copilot"}},
    "U0REP": {
        "id": "U0REP",
        "team_id": TEAM,
        "profile": {"real_name": "Wang Lei", "title": "Account Executive"},
    },
    "U0REP2": {"id": "U0REP2", "team_id": TEAM, "profile": {"real_name": "Zhao Min", "title": "Sales"}},
    "U0MATE": {"id": "U0MATE", "team_id": TEAM, "profile": {"real_name": "Sun Li", "title": "CFO"}},
    "U0CUST": {"id": "U0CUST", "team_id": EXT, "profile": {"real_name": "Li Ming", "title": "CTO"}},
}


@dataclass
class Call:
    path: str
    body: dict[str, Any]
    auth: str
    at: float  # time.monotonic() when received


class FakeSlack:
    """The server's state and what it received (thread-safe)."""

    def __init__(self) -> None:
        self.history: list[dict[str, Any]] = [
            {
                "type": "message",
                "user": "U0REP",
                "ts": "1795000000.000100",
                "text": "李总好，方案您看过了吗？",
            },
            {
                "type": "message",
                "user": "U0CUST",
                "ts": "1795000001.000100",
                "text": "方案我们技术这边认可了，但价格比预算高不少，极光数仓报价便宜20%。",
            },
        ]
        self.calls: list[Call] = []
        self.url = ""
        self.socket_url = ""  # what apps.connections.open answers (slack_socket_fake)
        self.oauth: dict[str, dict[str, Any]] = {}  # code -> oauth.v2.access answer
        self.revoked: set[str] = set()  # user tokens Slack no longer accepts
        self._changed = threading.Condition()

    def record(self, call: Call) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def find(self, path: str, where: Callable[[Call], bool] = lambda c: True) -> list[Call]:
        with self._changed:
            return [c for c in self.calls if c.path == path and where(c)]

    def wait_for(
        self, path: str, where: Callable[[Call], bool] = lambda c: True, count: int = 1, timeout: float = 30
    ) -> list[Call]:
        """Wait (up to ``timeout`` s) until ``count`` matching calls arrived; return them."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [c for c in self.calls if c.path == path and where(c)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = sorted({c.path for c in self.calls})
                    raise AssertionError(f"{count} call(s) to {path} not seen in {timeout} s; seen: {seen}")
                self._changed.wait(left)

    def answer(self, method: str, args: dict[str, Any], auth: str = "") -> dict[str, Any]:
        if auth.removeprefix("Bearer ") in self.revoked:
            return {"ok": False, "error": "token_revoked"}
        if method == "auth.test":
            return {"ok": True, "team_id": TEAM, "user_id": "U0BOT", "bot_id": "B0BOT", "team": "Home"}
        if method == "conversations.history":
            return {"ok": True, "messages": self.history[::-1], "has_more": False}
        if method == "conversations.replies":
            ts = args.get("ts")
            thread = [m for m in self.history if m.get("thread_ts", m["ts"]) == ts or m["ts"] == ts]
            return {"ok": True, "messages": thread, "has_more": False}
        if method == "users.info":
            user = USERS.get(str(args.get("user")))
            return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}
        if method in ("chat.postMessage", "chat.postEphemeral"):
            return {
                "ok": True,
                "channel": args.get("channel"),
                "ts": f"{time.time():.6f}",
                "message_ts": "1.2",
            }
        if method == "apps.connections.open":
            if not self.socket_url:
                return {"ok": False, "error": "no_ws"}
            return {"ok": True, "url": self.socket_url}
        if method == "oauth.v2.access":
            return self.oauth.pop(str(args.get("code")), {"ok": False, "error": "invalid_code"})
        if method == "auth.revoke":
            self.revoked.add(auth.removeprefix("Bearer "))
            return {"ok": True, "revoked": True}
        if method == "views.open":
            return {"ok": True, "view": {"id": "V0VIEW", "hash": "h1"}}
        return {"ok": False, "error": "unknown_method"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeSlack

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        if self.path == "/stats":  # for a benchmark running this fake in its own process
            with self.fake._changed:
                calls = [
                    {"path": c.path, "at": c.at, "blocks": bool(c.body.get("blocks"))}
                    for c in self.fake.calls
                ]
            self._reply(200, {"calls": calls})
            return
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parsed = urllib.parse.urlparse(self.path)
        path = parsed.path
        args: dict[str, Any] = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        if "json" in self.headers.get("Content-Type", ""):
            args.update(json.loads(raw or b"{}"))
        else:
            args.update({k: v[-1] for k, v in urllib.parse.parse_qs(raw.decode()).items()})
        for key in ("blocks", "view"):
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        self.fake.record(Call(path, args, self.headers.get("Authorization", ""), time.monotonic()))
        if path.startswith("/api/"):
            reply = self.fake.answer(path.removeprefix("/api/"), args, self.headers.get("Authorization", ""))
        elif path.startswith("/response/"):
            reply = {"ok": True}
        else:
            reply = {"ok": False, "error": "unknown_path"}
        self._reply(200 if path.startswith(("/api/", "/response/")) else 404, reply)

    def _reply(self, status: int, reply: dict[str, Any]) -> None:
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST


@contextmanager
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's documented scheme, written independently of connectors/slack/_verify.py."""
    mac = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return "v0=" + mac.hexdigest()


class SlackSender:
    """Posts to ``/slack/events`` as Slack would: signed, form- or JSON-encoded."""

    def __init__(self, base_url: str, secret: str) -> None:
        self.url = f"{base_url}/slack/events"
        self.secret = secret
        # One client, shared by threads: a new client per request costs a TLS context each
        # (tens of ms of CPU), which a benchmark would count as the server's ack time.
        self.http = httpx.Client(timeout=10, limits=httpx.Limits(max_connections=100))

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SlackSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def post(
        self,
        body: bytes,
        content_type: str,
        *,
        secret: str | None = None,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signed = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": slack_signature(secret or self.secret, ts, body),
            **(headers or {}),
        }
        return self.http.post(self.url, content=body, headers=signed)

    def event(self, payload: dict[str, Any], **kw: Any) -> httpx.Response:
        return self.post(json.dumps(payload).encode(), "application/json", **kw)

    def form(self, fields: dict[str, str], **kw: Any) -> httpx.Response:
        return self.post(urllib.parse.urlencode(fields).encode(), "application/x-www-form-urlencoded", **kw)

    def command(self, text: str, fake: FakeSlack, rid: str, user: str = "U0REP", **kw: Any) -> httpx.Response:
        return self.form(
            {
                "command": "/suggest",
                "text": text,
                "team_id": TEAM,
                "channel_id": "C0DEAL",
                "user_id": user,
                "api_app_id": "A0APP",
                "trigger_id": f"trigger-{rid}",
                "response_url": f"{fake.url}/response/{rid}",
            },
            **kw,
        )

    def interaction(self, payload: dict[str, Any], **kw: Any) -> httpx.Response:
        return self.form({"payload": json.dumps(payload, ensure_ascii=False)}, **kw)

    def click(self, button: dict[str, Any], fake: FakeSlack, rid: str, user: str = "U0REP") -> httpx.Response:
        return self.interaction(
            {
                "type": "block_actions",
                "user": {"id": user, "team_id": TEAM},
                "team": {"id": TEAM},
                "api_app_id": "A0APP",
                "channel": {"id": "C0DEAL"},
                "container": {"type": "message", "is_ephemeral": True, "channel_id": "C0DEAL"},
                "trigger_id": f"trigger-{rid}",
                "response_url": f"{fake.url}/response/{rid}",
                "actions": [
                    {
                        "type": "button",
                        "action_id": button["action_id"],
                        "block_id": "b",
                        "value": button["value"],
                        "action_ts": f"{time.time():.6f}",
                    }
                ],
            }
        )


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b.get("type") == "actions" for e in b["elements"]]


if __name__ == "__main__":  # python tests/slack_fake.py: serve until killed, print the URL
    with fake_slack() as running:
        print(running.url, flush=True)
        threading.Event().wait()
