"""A fake OpenAI-compatible chat server for tests: real HTTP on 127.0.0.1, port 0.

It records every request body and answers ``/v1/chat/completions`` from a queue of
:class:`FakeReply` (the last one repeats): structured output as the request asked
for it (a tool call when it offers tools, else message content for ``response_format``
json_schema / json_object), raw text (malformed JSON), an HTTP error, or a slow answer.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class FakeReply:
    """One scripted answer. ``drafts`` is the JSON object returned as structured
    output; ``raw`` replaces it with literal text; ``status`` != 200 is an API error."""

    drafts: dict[str, Any] | Callable[[str], dict[str, Any]] | None = None  # or made from the prompt
    raw: str | None = None
    status: int = 200
    delay_s: float = 0.0


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw: bytes = field(repr=False, default=b"")

    @property
    def prompt(self) -> str:
        return "\n".join(str(m.get("content", "")) for m in self.body.get("messages", []))


class FakeOpenAI:
    def __init__(self, *replies: FakeReply) -> None:
        self.replies: list[FakeReply] = list(replies) or [FakeReply(drafts={"suggestions": []})]
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def script(self, *replies: FakeReply) -> None:
        with self._lock:
            self.replies = list(replies)
            self.requests.clear()

    def completions(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()  # slow answers stop waiting
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _next(self) -> FakeReply:
        with self._lock:
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def _answer(self, request: Recorded) -> tuple[int, dict[str, Any], float]:
        with self._lock:
            self.requests.append(request)
        reply = self._next()
        if reply.status != 200:
            error = {"error": {"message": "fake fault", "type": "server_error", "code": reply.status}}
            return reply.status, error, reply.delay_s
        drafts = reply.drafts(request.prompt) if callable(reply.drafts) else reply.drafts
        text = reply.raw if reply.raw is not None else json.dumps(drafts, ensure_ascii=False)
        message: dict[str, Any] = {"role": "assistant", "content": text}
        tools = request.body.get("tools") or []
        if tools:
            name = tools[0]["function"]["name"]
            call = {"id": f"call_{uuid.uuid4().hex[:12]}", "type": "function"}
            call["function"] = {"name": name, "arguments": text}
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
        body = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.body.get("model", "fake"),
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tools else "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        return 200, body, reply.delay_s

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorded = Recorded(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(raw or b"{}"), raw
                )
                status, body, delay = fake._answer(recorded)
                if delay and fake._closing.wait(delay):
                    return
                data = json.dumps(body).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its deadline): that is the point of a slow reply

        return Handler


def serve(*replies: FakeReply) -> Iterator[FakeOpenAI]:
    with FakeOpenAI(*replies) as fake:
        yield fake
