"""The WeCom server API (qyapi cgi-bin) over async httpx: cached token, message/send, rate limits.

Every call goes to ``COPILOT_WECOM_API_URL`` and logs one line (path, errcode,
latency); the access token travels in the query string and never reaches a log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from copilot.errors import ConnectorError

__all__ = ["MAX_MARKDOWN_BYTES", "MAX_TEXT_BYTES", "PER_MEMBER_PER_MINUTE", "WeComClient", "split_text"]

log = logging.getLogger("copilot.wecom.api")

MAX_TEXT_BYTES = 2048
MAX_MARKDOWN_BYTES = 4096
PER_MEMBER_PER_MINUTE = 30
_TOKEN_EXPIRED = {40014, 42001, 40001}  # invalid, expired, invalid credential
_TOKEN_MARGIN_S = 300


def split_text(text: str, limit: int = MAX_TEXT_BYTES) -> list[str]:
    """Pieces of at most ``limit`` UTF-8 bytes, cut at line ends where possible, never inside a character."""
    pieces: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        if len((current + line).encode("utf-8")) <= limit:
            current += line
            continue
        if current:
            pieces.append(current)
            current = ""
        while len(line.encode("utf-8")) > limit:
            cut = _fit(line, limit)
            pieces.append(line[:cut])
            line = line[cut:]
        current = line
    if current:
        pieces.append(current)
    return [p.strip("\n") for p in pieces if p.strip()]


def _fit(line: str, limit: int) -> int:
    """How many characters of ``line`` fit in ``limit`` bytes."""
    size = 0
    for index, char in enumerate(line):
        size += len(char.encode("utf-8"))
        if size > limit:
            return max(index, 1)
    return len(line)


class _MemberLimiter:
    """At most ``rate`` messages per rolling minute to one member; callers wait for a slot."""

    def __init__(
        self, rate: int, clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]]
    ) -> None:
        self.rate = rate
        self.clock = clock
        self.sleep = sleep
        self._sent: dict[str, deque[float]] = {}
        self._lock = asyncio.Lock()

    async def slot(self, member: str) -> None:
        while True:
            async with self._lock:
                now = self.clock()
                window = self._sent.setdefault(member, deque())
                while window and now - window[0] >= 60:
                    window.popleft()
                if len(window) < self.rate:
                    window.append(now)
                    return
                wait = 60 - (now - window[0])
            log.warning("wecom: 30 messages/min to one member reached; waiting %.1f s", wait)
            await self.sleep(wait)


def _raise_for(path: str, data: dict[str, Any]) -> None:
    if data.get("errcode") != 0:
        message = (
            f"WeCom API {path} failed: errcode {data.get('errcode')} {str(data.get('errmsg', ''))[:200]}"
        )
        raise ConnectorError(message)


class WeComClient:
    """One corp app's API client. ``close()`` it (or use ``async with``)."""

    def __init__(
        self,
        base_url: str,
        corp_id: str,
        secret: str,
        agent_id: int | None,
        *,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.agent_id = agent_id
        self._corp_id = corp_id
        self._secret = secret
        self._http = httpx.AsyncClient(
            base_url=base_url if base_url.endswith("/") else base_url + "/",
            timeout=timeout_s,
        )
        self._token: str | None = None
        self._token_until = 0.0
        self._token_lock = asyncio.Lock()
        self._clock = clock
        self._limiter = _MemberLimiter(PER_MEMBER_PER_MINUTE, clock, sleep)
        self._ticket: str | None = None
        self._ticket_until = 0.0
        self._ticket_lock = asyncio.Lock()

    async def __aenter__(self) -> WeComClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(
        self, method: str, path: str, *, params: dict[str, str], body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        started = time.perf_counter()
        errcode: object = "-"
        try:
            response = await self._http.request(method, path, params=params, json=body)
            data = response.json() if response.status_code == 200 else None
            if not isinstance(data, dict) or "errcode" not in data:
                errcode = f"http {response.status_code}"
                raise ConnectorError(f"WeCom API {path}: HTTP {response.status_code} without a JSON errcode")
            errcode = data["errcode"]
        except (httpx.HTTPError, ValueError) as exc:
            errcode = type(exc).__name__
            raise ConnectorError(f"WeCom API {path}: {errcode}; check COPILOT_WECOM_API_URL") from exc
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            log.info("wecom %s %s errcode=%s %.1f ms", method, path, errcode, elapsed)
        return data

    async def token(self, *, refresh: bool = False) -> str:
        """The cached access token; fetched when missing, near expiry, or when ``refresh``."""
        async with self._token_lock:
            if refresh or self._token is None or self._clock() >= self._token_until:
                data = await self._call(
                    "GET", "gettoken", params={"corpid": self._corp_id, "corpsecret": self._secret}
                )
                if data.get("errcode") != 0 or not data.get("access_token"):
                    message = (
                        f"WeCom gettoken refused (errcode {data.get('errcode')}): "
                        "check COPILOT_WECOM_CORP_ID and COPILOT_WECOM_SECRET"
                    )
                    raise ConnectorError(message)
                self._token = str(data["access_token"])
                lifetime = float(data.get("expires_in") or 7200)
                self._token_until = self._clock() + max(lifetime - _TOKEN_MARGIN_S, 60.0)
            return self._token

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with the token; on an expired/invalid token, refresh once and retry."""
        token = await self.token()
        data = await self._call("POST", path, params={"access_token": token}, body=body)
        if data.get("errcode") in _TOKEN_EXPIRED:
            token = await self.token(refresh=True)
            data = await self._call("POST", path, params={"access_token": token}, body=body)
        if data.get("errcode") != 0:
            raise ConnectorError(
                f"WeCom API {path} failed: errcode {data.get('errcode')} {data.get('errmsg', '')}"
            )
        return data

    def _agent(self) -> int:
        if self.agent_id is None:
            raise ConnectorError("sending WeCom messages needs COPILOT_WECOM_AGENT_ID (the app's AgentId)")
        return self.agent_id

    async def send_text(self, user: str, text: str) -> list[str]:
        """Send ``text`` to one member, split within WeCom's 2048-byte limit; the msgids."""
        ids = []
        for piece in split_text(text, MAX_TEXT_BYTES):
            await self._limiter.slot(user)
            body = {"touser": user, "msgtype": "text", "agentid": self._agent(), "text": {"content": piece}}
            ids.append(str((await self.post("message/send", body)).get("msgid", "")))
        return ids

    async def send_card(self, user: str, card: dict[str, Any]) -> str:
        """Send one template card to one member; its msgid."""
        await self._limiter.slot(user)
        body = {"touser": user, "msgtype": "template_card", "agentid": self._agent(), "template_card": card}
        return str((await self.post("message/send", body)).get("msgid", ""))

    async def update_card_button(self, user: str, response_code: str, label: str) -> None:
        """Turn a tapped card's buttons into one greyed label (e.g. 已采用)."""
        body = {
            "userids": [user],
            "agentid": self._agent(),
            "response_code": response_code,
            "button": {"replace_name": label},
        }
        await self.post("message/update_template_card", body)

    async def get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        """GET with the token; on an expired/invalid token, refresh once and retry."""
        data = await self._call("GET", path, params={**params, "access_token": await self.token()})
        if data.get("errcode") in _TOKEN_EXPIRED:
            token = await self.token(refresh=True)
            data = await self._call("GET", path, params={**params, "access_token": token})
        if data.get("errcode") != 0:
            raise ConnectorError(
                f"WeCom API {path} failed: errcode {data.get('errcode')} {data.get('errmsg', '')}"
            )
        return data

    async def user_for_code(self, code: str) -> str:
        """The member id behind an OAuth2 ``code`` (the sidebar's sign-in)."""
        data = await self.get("auth/getuserinfo", {"code": code})
        user = data.get("userid") or data.get("UserId")
        if not isinstance(user, str) or not user:
            raise ConnectorError("WeCom auth/getuserinfo: the code does not belong to a member of this corp")
        return user

    async def agent_ticket(self) -> str:
        """The app's jsapi ticket for ``wx.agentConfig`` (cached like the token)."""
        async with self._ticket_lock:
            if self._ticket is None or self._clock() >= self._ticket_until:
                data = await self.get("ticket/get", {"type": "agent_config"})
                self._ticket = str(data.get("ticket") or "")
                lifetime = float(data.get("expires_in") or 7200)
                self._ticket_until = self._clock() + max(lifetime - _TOKEN_MARGIN_S, 60.0)
            return self._ticket
