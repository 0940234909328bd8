"""A fake Slack Socket Mode endpoint: a WebSocket server on 127.0.0.1 (port 0).

The fake Web API (``slack_fake.FakeSlack``) answers ``apps.connections.open`` with
this server's ``ws://`` URL. On each connection the server says ``hello`` (as
Slack does), then sends every envelope queued with :meth:`SocketModeFake.deliver`
and records what the app sends back: the acknowledgements, ``{"envelope_id": …}``.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve


class SocketModeFake:
    def __init__(self) -> None:
        self.url = ""
        self.connections = 0
        self.acks: list[dict[str, Any]] = []
        self._outbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self._changed = threading.Condition()

    def deliver(self, kind: str, payload: dict[str, Any], *, envelope_id: str = "", retry: int = 0) -> str:
        """Queue an envelope (``slash_commands``, ``interactive`` or ``events_api``);
        return its id. A redelivery is the same envelope id with ``retry`` above 0."""
        envelope_id = envelope_id or str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": retry,
            "retry_reason": "timeout" if retry else "",
        }
        self._outbox.put(envelope)
        return envelope_id

    def wait_for_ack(self, envelope_id: str, count: int = 1, timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(found := [a for a in self.acks if a.get("envelope_id") == envelope_id]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no ack for envelope {envelope_id} in {timeout} s: {self.acks}")
                self._changed.wait(left)
            return found

    def wait_connected(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self.connections:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the app did not connect in {timeout} s")
                self._changed.wait(left)

    def _handle(self, ws: ServerConnection) -> None:
        with self._changed:
            self.connections += 1
            self._changed.notify_all()
        ws.send(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0APP"}}))
        receiver = threading.Thread(target=self._receive, args=(ws,), daemon=True)
        receiver.start()
        while receiver.is_alive():
            try:
                envelope = self._outbox.get(timeout=0.05)
            except queue.Empty:
                continue
            try:
                ws.send(json.dumps(envelope, ensure_ascii=False))
            except ConnectionClosed:
                self._outbox.put(envelope)  # for the next connection, as Slack would
                return

    def _receive(self, ws: ServerConnection) -> None:
        try:
            for message in ws:
                with self._changed:
                    self.acks.append(json.loads(message))
                    self._changed.notify_all()
        except ConnectionClosed:
            return


@contextmanager
def socket_mode_fake() -> Iterator[SocketModeFake]:
    fake = SocketModeFake()
    server = serve(fake._handle, "127.0.0.1", 0)
    fake.url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}/link/?ticket=t-1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        thread.join(timeout=10)
