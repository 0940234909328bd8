"""Test-side WeCom: a fake server API on 127.0.0.1 (port 0) that records requests, and callbacks
encrypted from Tencent's published algorithm (written here, independently of wechatpy and of
the connector): SHA-1 over the sorted [token, timestamp, nonce, encrypt]; AES-256-CBC with
key = base64decode(EncodingAESKey + "="), IV = key[:16], PKCS#7 padding to 32-byte blocks;
plaintext = 16 random bytes + 4-byte big-endian length + message + corp id.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

CORP_ID = "wwtest0001"
TOKEN = "testtoken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SECRET = "test-secret"
AGENT_ID = 1000002


def tencent_encrypt(message: bytes, *, corp_id: str = CORP_ID, aes_key: str = AES_KEY) -> str:
    key = base64.b64decode(aes_key + "=")
    plain = os.urandom(16) + struct.pack(">I", len(message)) + message + corp_id.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def tencent_decrypt(encrypted: str, *, aes_key: str = AES_KEY) -> tuple[bytes, str]:
    key = base64.b64decode(aes_key + "=")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
    plain = plain[: -plain[-1]]
    (length,) = struct.unpack(">I", plain[16:20])
    return plain[20 : 20 + length], plain[20 + length :].decode()


def tencent_signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()


def text_xml(user: str, content: str, msg_id: str, *, created: int | None = None) -> bytes:
    created = int(time.time()) if created is None else created
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId><AgentID>{AGENT_ID}</AgentID></xml>"
    ).encode()


def card_event_xml(
    user: str, key: str, task_id: str, *, pick: str | None = "0", created: int | None = None
) -> bytes:
    created = int(time.time()) if created is None else created
    selected = (
        "<SelectedItems><SelectedItem><QuestionKey><![CDATA[pick]]></QuestionKey>"
        f"<OptionIds><OptionId><![CDATA[{pick}]]></OptionId></OptionIds></SelectedItem></SelectedItems>"
        if pick is not None
        else ""
    )
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[template_card_event]]></Event>"
        f"<EventKey><![CDATA[{key}]]></EventKey><TaskId><![CDATA[{task_id}]]></TaskId>"
        "<CardType><![CDATA[button_interaction]]></CardType><ResponseCode><![CDATA[rc-42]]></ResponseCode>"
        f"<AgentID>{AGENT_ID}</AgentID>{selected}</xml>"
    ).encode()


def signed_post(
    inner: bytes, *, timestamp: int | None = None, token: str = TOKEN, corp_id: str = CORP_ID
) -> tuple[dict[str, str], bytes]:
    """(query, body) of a callback POST exactly as WeCom sends it."""
    encrypted = tencent_encrypt(inner, corp_id=corp_id)
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = "n" + os.urandom(4).hex()
    query = {
        "msg_signature": tencent_signature(token, stamp, nonce, encrypted),
        "timestamp": stamp,
        "nonce": nonce,
    }
    body = (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><AgentID><![CDATA[{AGENT_ID}]]></AgentID>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    ).encode()
    return query, body


@dataclass
class FakeWeCom:
    """What the fake API received, and knobs for the next answers."""

    url: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)
    tokens_issued: int = 0
    expire_next_send: bool = False
    codes: dict[str, str] = field(default_factory=dict)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def sends(self, user: str | None = None) -> list[dict[str, Any]]:
        with self.cond:
            return [
                c["body"]
                for c in self.calls
                if c["path"].endswith("/message/send")
                and c["ok"]
                and (user is None or c["body"].get("touser") == user)
            ]

    def wait_for(self, predicate: Callable[[FakeWeCom], bool], timeout: float = 30.0) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: predicate(self), timeout=timeout):
                raise AssertionError(
                    f"fake WeCom: condition not met in {timeout} s; calls: {self.calls[-5:]}"
                )


def _handler(fake: FakeWeCom) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, obj: dict[str, Any]) -> None:
            data = json.dumps(obj, ensure_ascii=False).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            parsed = urllib.parse.urlparse(self.path)
            query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
            size = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(size)) if size else {}
            path = parsed.path
            with fake.cond:
                current = f"tok-{fake.tokens_issued}"
                answer: dict[str, Any]
                if path.endswith("/gettoken"):
                    if query.get("corpid") == CORP_ID and query.get("corpsecret") == SECRET:
                        fake.tokens_issued += 1
                        answer = {
                            "errcode": 0,
                            "access_token": f"tok-{fake.tokens_issued}",
                            "expires_in": 7200,
                        }
                    else:
                        answer = {"errcode": 40001, "errmsg": "invalid credential"}
                elif query.get("access_token") != current:
                    answer = {"errcode": 40014, "errmsg": "invalid access_token"}
                elif path.endswith("/message/send") and fake.expire_next_send:
                    fake.expire_next_send = False
                    answer = {"errcode": 42001, "errmsg": "access_token expired"}
                elif path.endswith("/message/send"):
                    answer = {"errcode": 0, "errmsg": "ok", "msgid": f"m{len(fake.calls)}"}
                elif path.endswith("/auth/getuserinfo"):
                    user = fake.codes.get(query.get("code", ""))
                    answer = (
                        {"errcode": 0, "userid": user}
                        if user
                        else {"errcode": 40029, "errmsg": "invalid code"}
                    )
                elif path.endswith("/ticket/get"):
                    answer = {"errcode": 0, "ticket": "ticket-1", "expires_in": 7200}
                else:
                    answer = {"errcode": 0, "errmsg": "ok"}
                ok = answer["errcode"] == 0
                fake.calls.append(
                    {"path": path, "query": query, "body": body, "ok": ok, "at": time.monotonic()}
                )
                fake.cond.notify_all()
            self._answer(answer)

        do_GET = _handle
        do_POST = _handle

    return Handler


@contextmanager
def fake_wecom_server() -> Iterator[FakeWeCom]:
    fake = FakeWeCom()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/cgi-bin/"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
