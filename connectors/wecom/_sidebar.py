"""``/wecom/sidebar``: the chat-toolbar H5 page, its script, and its small JSON API.

Sign-in is WeCom's OAuth2 (``?code=`` → auth/getuserinfo → a signed, HttpOnly
session cookie). The page is rendered on the server; its only scripts are our own
file and Tencent's JS-SDK (required by WeCom for ``sendChatMessage``), under a CSP
without inline scripts. Every API call is scoped to the signed-in rep.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
import urllib.parse
from importlib import resources
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, select_autoescape
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from copilot import Deal
from copilot.errors import ConnectorError, CopilotError, InputError

from .._state import ChatState
from ._cards import FinalAction
from ._deal import STAGE_LABELS

if TYPE_CHECKING:
    from ._api import WeComClient
    from ._flow import WeComFlow

__all__ = ["JSSDK_URL", "Sidebar"]

log = logging.getLogger("copilot.wecom.sidebar")
JSSDK_URL = "https://res.wx.qq.com/open/js/jweixin-1.2.0.js"
_COOKIE = "copilot_wecom"
_SESSION_S = 8 * 3600
_EXTERNAL = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_ACTIONS: dict[str, FinalAction] = {"sent_as_is": "sent_as_is", "edited": "edited", "dismissed": "dismissed"}
_CSP = (
    "default-src 'none'; script-src 'self' https://res.wx.qq.com; style-src 'self'; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _asset(name: str) -> str:
    return resources.files("connectors.wecom").joinpath(name).read_text("utf-8")


class Sidebar:
    """The sidebar's routes for one app."""

    def __init__(self, client: WeComClient, flow: WeComFlow, corp_id: str, signing_key: bytes) -> None:
        self.client = client
        self.flow = flow
        self.corp_id = corp_id
        self._key = hashlib.sha256(b"copilot-wecom-sidebar\0" + signing_key).digest()
        env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
        self._page = env.from_string(_asset("sidebar.html"))

    def routes(self) -> list[Route]:
        return [
            Route("/wecom/sidebar", self.page, methods=["GET"]),
            Route("/wecom/sidebar/static/{name}", self.static, methods=["GET"]),
            Route("/wecom/sidebar/api/contact", self.contact, methods=["GET"]),
            Route("/wecom/sidebar/api/deal", self.deal, methods=["POST"]),
            Route("/wecom/sidebar/api/suggest", self.suggest, methods=["POST"]),
            Route("/wecom/sidebar/api/action", self.action, methods=["POST"]),
        ]

    # -- session ---------------------------------------------------------------------------
    def _sign(self, user: str, until: int) -> str:
        payload = base64.urlsafe_b64encode(json.dumps([user, until]).encode()).decode()
        mac = hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()
        return f"{payload}.{mac}"

    def _rep(self, request: Request) -> str | None:
        payload, _, mac = request.cookies.get(_COOKIE, "").partition(".")
        expected = hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()
        if not payload or not hmac.compare_digest(mac.encode("utf-8", "replace"), expected.encode()):
            return None
        user, until = json.loads(base64.urlsafe_b64decode(payload))
        return str(user) if isinstance(until, int) and until > time.time() else None

    # -- page ------------------------------------------------------------------------------
    async def page(self, request: Request) -> Response:
        code = request.query_params.get("code", "")
        if code:
            try:
                user = await self.client.user_for_code(code[:512])
            except ConnectorError as exc:
                log.warning("wecom sidebar sign-in failed: %s", exc)
                return self._html("无法登录：请从企业微信聊天工具栏重新打开。", status=403)
            response = RedirectResponse(str(request.url.remove_query_params(["code", "state"])), 303)
            response.set_cookie(
                _COOKIE,
                self._sign(user, int(time.time()) + _SESSION_S),
                max_age=_SESSION_S,
                httponly=True,
                samesite="lax",
                secure=request.url.scheme == "https",
                path="/wecom/sidebar",
            )
            return response
        rep = self._rep(request)
        if rep is None:
            return RedirectResponse(self._authorize_url(request), 303)
        config = await self._agent_config(str(request.url).split("#")[0])
        return self._html("", rep=rep, config=config)

    def _authorize_url(self, request: Request) -> str:
        query = urllib.parse.urlencode(
            {
                "appid": self.corp_id,
                "redirect_uri": str(request.url),
                "response_type": "code",
                "scope": "snsapi_base",
                "agentid": str(self.client.agent_id or ""),
                "state": "sidebar",
            }
        )
        return f"https://open.weixin.qq.com/connect/oauth2/authorize?{query}#wechat_redirect"

    async def _agent_config(self, url: str) -> dict[str, str]:
        """What ``wx.agentConfig`` needs, signed with the app's jsapi ticket."""
        try:
            ticket = await self.client.agent_ticket()
        except ConnectorError as exc:
            log.warning("wecom sidebar: no jsapi ticket: %s", exc)
            return {}
        nonce, stamp = secrets.token_hex(8), str(int(time.time()))
        plain = f"jsapi_ticket={ticket}&noncestr={nonce}&timestamp={stamp}&url={url}"
        return {
            "corpid": self.corp_id,
            "agentid": str(self.client.agent_id or ""),
            "timestamp": stamp,
            "nonce": nonce,
            "signature": hashlib.sha1(plain.encode()).hexdigest(),
        }

    def _html(
        self, error: str, *, rep: str = "", config: dict[str, str] | None = None, status: int = 200
    ) -> Response:
        body = self._page.render(
            error=error, rep=rep, config=config or {}, jssdk=JSSDK_URL, stages=STAGE_LABELS
        )
        return Response(body, status_code=status, media_type="text/html; charset=utf-8", headers=_HEADERS)

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        types = {"sidebar.js": "text/javascript", "sidebar.css": "text/css"}
        if name not in types:
            return Response("not found", 404)
        return Response(_asset(name), media_type=f"{types[name]}; charset=utf-8", headers=_HEADERS)

    # -- API -------------------------------------------------------------------------------
    async def _context(self, request: Request) -> tuple[str, str, dict[str, Any]]:
        """(rep, state key, JSON body) for an API call; raises _Refused."""
        rep = self._rep(request)
        if rep is None:
            raise _Refused(401, "not signed in: reopen the sidebar from the chat toolbar")
        body: dict[str, Any] = {}
        if request.method == "POST":
            if request.headers.get("x-requested-with") != "copilot" or "json" not in request.headers.get(
                "content-type", ""
            ):
                raise _Refused(403, "API calls must come from the sidebar page")
            raw = await request.body()
            if len(raw) > 16 * 1024:
                raise _Refused(413, "request body over 16 KB")
            try:
                loaded = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                raise _Refused(400, "request body is not JSON") from None
            if not isinstance(loaded, dict):
                raise _Refused(400, "request body must be a JSON object")
            body = loaded
        external = str(body.get("external") or request.query_params.get("external", ""))
        if not _EXTERNAL.fullmatch(external):
            raise _Refused(400, "external: the current external contact's userid is missing or malformed")
        from ._flow import chat_key

        return rep, chat_key(rep, external), body

    async def _answer(self, request: Request, work: Any) -> Response:
        try:
            rep, key, body = await self._context(request)
            return JSONResponse(await work(rep, key, body), headers=_HEADERS)
        except _Refused as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status, headers=_HEADERS)
        except InputError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400, headers=_HEADERS)
        except CopilotError as exc:
            log.error("wecom sidebar: %s", exc)
            return JSONResponse({"error": "暂时无法生成建议，请稍后再试"}, status_code=503, headers=_HEADERS)

    async def contact(self, request: Request) -> Response:
        async def work(rep: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
            state = await asyncio.to_thread(self.flow.store.get, key) or ChatState()
            return _view(state)

        return await self._answer(request, work)

    async def deal(self, request: Request) -> Response:
        async def work(rep: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
            fields = {
                k: str(body[k])[:200] for k in ("customer", "industry", "stage", "product") if body.get(k)
            }
            command = "deal " + " ".join(f"{k}={v}" for k, v in fields.items())
            await self.flow.set_deal(key, command)
            state = await asyncio.to_thread(self.flow.store.get, key)
            return _view(state or ChatState())

        return await self._answer(request, work)

    async def suggest(self, request: Request) -> Response:
        async def work(rep: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
            text = str(body.get("text", "")).strip()
            if not text:
                raise InputError("text: paste what the customer said")
            result, state = await self.flow.suggest(key, rep, text[:8000])
            return {**_view(state), "set": result.model_dump(mode="json", exclude={"timings_ms"})}

        return await self._answer(request, work)

    async def action(self, request: Request) -> Response:
        async def work(rep: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
            set_id, action = str(body.get("set_id", "")), str(body.get("action", ""))
            state = await asyncio.to_thread(self.flow.store.get, key) or ChatState()
            shown = state.shown_set(set_id)
            if shown is None or shown.rep != rep:
                raise InputError(f"set_id: {set_id[:40]!r} was not shown to you for this contact")
            if action not in _ACTIONS:
                raise InputError(f"action: use one of {sorted(_ACTIONS)}")
            index = body.get("index")
            if not isinstance(index, int) or not 0 <= index < len(shown.suggestions):
                index = None
            final = body.get("final_text")
            event = await self.flow.engine.record_action(
                set_id,
                _ACTIONS[action],
                rep=rep,
                index=index,
                final_text=str(final)[:8000] if final else None,
            )
            done = shown.model_copy(update={"acted": True})
            await asyncio.to_thread(self.flow.store.update, key, lambda s: s.with_set(done))
            return {"recorded": action, "event_id": getattr(event, "id", "")}

        return await self._answer(request, work)


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def _view(state: ChatState) -> dict[str, Any]:
    deal: Deal | None = state.deal
    latest = state.shown[-1] if state.shown else None
    return {
        "deal": deal.model_dump(mode="json") if deal else None,
        "latest": latest.model_dump(mode="json", include={"id", "suggestions", "acted"}) if latest else None,
    }
