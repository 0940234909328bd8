"""``/wecom/callback``: URL verification (GET) and encrypted messages and events (POST).

Verify, decrypt, parse, claim, answer at once; the work runs after the answer is sent
(WeCom retries after 5 s, three times). Anything not from WeCom, unreadable or
oversized is answered 4xx and nothing is processed; a retried MsgId or event is
claimed once, in any worker, through the shared state store.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

from ._crypto import MAX_BODY_BYTES, WeComCrypto, WeComRequestError
from ._messages import parse_envelope, parse_inbound

if TYPE_CHECKING:
    from .._state import StateStore
    from ._flow import WeComFlow

__all__ = ["CallbackEndpoint"]

log = logging.getLogger("copilot.wecom")


class CallbackEndpoint:
    """The ASGI endpoint for both methods of ``/wecom/callback``."""

    def __init__(
        self,
        crypto: WeComCrypto,
        store: StateStore,
        flow: WeComFlow,
        spawn: Callable[..., Any],
    ) -> None:
        self.crypto = crypto
        self.store = store
        self.flow = flow
        self._spawn = spawn

    async def handle(self, request: Request) -> Response:
        try:
            if request.method == "GET":
                return await self._verify(request)
            return await self._receive(request)
        except WeComRequestError as exc:
            log.warning("wecom callback refused (%s): %s", exc.status, exc)
            return PlainTextResponse(str(exc), status_code=exc.status)

    async def _verify(self, request: Request) -> Response:
        q = request.query_params
        plain = self.crypto.verify_url(
            q.get("msg_signature", ""), q.get("timestamp", ""), q.get("nonce", ""), q.get("echostr", "")
        )
        return PlainTextResponse(plain)

    async def _receive(self, request: Request) -> Response:
        body = await _read_limited(request)
        envelope = parse_envelope(body)
        q = request.query_params
        inner = self.crypto.decrypt(
            q.get("msg_signature", ""), q.get("timestamp", ""), q.get("nonce", ""), envelope.encrypt
        )
        item = parse_inbound(inner)
        if item is None:
            return PlainTextResponse("")
        if not await asyncio.to_thread(self.store.claim, item.dedup_key):
            log.info("wecom: retried delivery of an already-claimed %s ignored", item.kind)
            return PlainTextResponse("")
        work: Coroutine[Any, Any, None] = self.flow.handle(item)
        self._spawn(work, name=f"wecom {item.kind}")
        return PlainTextResponse("")


async def _read_limited(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise WeComRequestError(f"callback body over {MAX_BODY_BYTES} bytes", 413)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise WeComRequestError(f"callback body over {MAX_BODY_BYTES} bytes", 413)
            chunks.append(chunk)
    except ClientDisconnect:
        raise WeComRequestError("client disconnected before the body was read") from None
    return b"".join(chunks)
