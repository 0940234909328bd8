"""Send as the rep: a rep's own Slack user token, installed through Slack's OAuth v2 flow.

With ``COPILOT_SLACK_CLIENT_ID`` and ``COPILOT_SLACK_CLIENT_SECRET`` set:

1. ``/suggest connect`` shows the rep (only them) a button to Slack's authorize page,
   asking one user scope, ``chat:write``, with a ``state`` that names that rep and
   expires in ten minutes (HMAC under the client secret, usable once).
2. Slack sends the rep's browser to ``GET /slack/oauth_redirect?code=…&state=…``; the
   code is exchanged with ``oauth.v2.access`` through ``COPILOT_SLACK_API_URL``. The
   token is kept only if it belongs to the rep the state names, in this workspace,
   with ``chat:write``; it is stored sealed (Fernet, key derived from the client
   secret) in the state store, never in a log, the audit log or a reply.
3. "Send" and "Edit & send" post with it; a revoked or expired token is dropped on
   first use and the bot posts instead, naming the rep. ``/suggest disconnect``
   revokes it (``auth.revoke``) and deletes it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import json
import logging
import secrets
import time
import urllib.parse
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import HTMLResponse

from copilot import Settings
from copilot.errors import ConnectorError

from .._state import StateStore

__all__ = [
    "DEAD_TOKEN_ERRORS",
    "STATE_TTL_S",
    "InstallRefused",
    "QueryFreeAccessLog",
    "UserTokens",
    "oauth_redirect",
    "page",
]

log = logging.getLogger("copilot.slack")
STATE_TTL_S = 600
USER_SCOPE = "chat:write"
# Errors after which a stored user token will never work again.
DEAD_TOKEN_ERRORS = frozenset(
    {"token_revoked", "token_expired", "invalid_auth", "account_inactive", "not_authed", "missing_scope"}
)


class InstallRefused(ConnectorError):
    """The OAuth redirect could not install a token; the message is safe to show."""


@dataclass
class UserTokens:
    """Reps' user tokens: the install flow, and sealed storage in the state store."""

    settings: Settings
    state: StateStore
    client: AsyncWebClient
    client_id: str
    client_secret: str

    @classmethod
    def from_settings(
        cls, settings: Settings, state: StateStore, client: AsyncWebClient
    ) -> UserTokens | None:
        """None unless the client id and secret are both set."""
        secret = settings.slack_client_secret.get_secret_value() if settings.slack_client_secret else ""
        if not settings.slack_client_id or not secret:
            return None
        return cls(settings, state, client, settings.slack_client_id, secret)

    def authorize_url(self, rep: str, team: str) -> str:
        """Slack's authorize page for ``rep``, derived from ``COPILOT_SLACK_API_URL``."""
        query = {"client_id": self.client_id, "scope": "", "user_scope": USER_SCOPE}
        query["state"] = self._state_for(rep, team)
        base = urllib.parse.urljoin(self.settings.slack_api_url, "../oauth/v2/authorize")
        return f"{base}?{urllib.parse.urlencode(query)}"

    async def install(self, code: str, state: str) -> str:
        """Finish the flow: check ``state``, exchange ``code``, store the token; the rep's id."""
        rep, team, nonce = self._check_state(state)
        if not await asyncio.to_thread(self.state.claim, f"slack:oauth:{nonce}"):
            raise InstallRefused("this link was already used: run /suggest connect again")
        started = time.perf_counter()
        try:
            # Credentials as form fields of a token-less call (the SDK's basic-auth path
            # uses an aiohttp API deprecated in 3.x); both forms are documented by Slack.
            anonymous = AsyncWebClient(
                base_url=self.settings.slack_api_url, timeout=10, logger=self.client.logger
            )
            form = {"client_id": self.client_id, "client_secret": self.client_secret, "code": code}
            reply = await anonymous.api_call("oauth.v2.access", data=form)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "error"))
            log.warning("slack oauth.v2.access refused: %s", error)
            raise InstallRefused(f"Slack refused the code ({error}): run /suggest connect again") from None
        except (TimeoutError, SlackClientError, OSError) as exc:
            log.error("slack oauth.v2.access failed: %s", type(exc).__name__)
            raise InstallRefused("Slack could not be reached: try /suggest connect again later") from None
        log.info("slack oauth.v2.access %.0f ms", (time.perf_counter() - started) * 1000)
        user = reply.get("authed_user") or {}
        token = str(user.get("access_token") or "")
        scopes = str(user.get("scope") or "").split(",")
        problem = ""
        if user.get("id") != rep or (reply.get("team") or {}).get("id") != team:
            problem = "this link was made for another Slack user or workspace"
        elif not token or USER_SCOPE not in scopes:
            problem = f"Slack did not grant {USER_SCOPE}"
        if problem:
            if token:
                await self._revoke(token)
            log.warning("slack user token for %s refused: %s", rep, problem)
            raise InstallRefused(f"{problem}: run /suggest connect again")
        sealed = self._fernet().encrypt(token.encode())
        await asyncio.to_thread(self.state.put_secret, _key(rep), sealed)
        log.info("slack user token installed for %s", rep)
        return rep

    async def token(self, rep: str) -> str | None:
        """The rep's user token, or None (none installed, or sealed under another secret)."""
        sealed = await asyncio.to_thread(self.state.get_secret, _key(rep))
        if sealed is None:
            return None
        try:
            return self._fernet().decrypt(sealed).decode()
        except InvalidToken:
            log.warning("slack user token of %s cannot be opened (client secret changed?); dropped", rep)
            await self.forget(rep, revoke=False)
            return None

    async def forget(self, rep: str, *, revoke: bool = True) -> bool:
        """Delete the rep's token (revoking it first); False when none was installed."""
        token = await self.token(rep) if revoke else None
        if token:
            await self._revoke(token)
        had = await asyncio.to_thread(self.state.get_secret, _key(rep)) is not None
        await asyncio.to_thread(self.state.put_secret, _key(rep), None)
        return had or token is not None

    async def _revoke(self, token: str) -> None:
        try:
            await self.client.auth_revoke(token=token)
        except (SlackApiError, SlackClientError, TimeoutError, OSError) as exc:
            log.warning("slack auth.revoke failed: %s", type(exc).__name__)

    def _fernet(self) -> Fernet:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"copilot slack user tokens")
        return Fernet(base64.urlsafe_b64encode(hkdf.derive(self.client_secret.encode())))

    def _mac(self, data: bytes) -> str:
        key = hashlib.sha256(b"copilot slack oauth state\0" + self.client_secret.encode()).digest()
        return hmac.new(key, data, hashlib.sha256).hexdigest()

    def _state_for(self, rep: str, team: str) -> str:
        claims = {"u": rep, "t": team, "n": secrets.token_hex(8), "e": int(time.time()) + STATE_TTL_S}
        data = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).decode()
        return f"{data}.{self._mac(data.encode())}"

    def _check_state(self, state: str) -> tuple[str, str, str]:
        data, _, mac = state.partition(".")
        if not data or not hmac.compare_digest(self._mac(data.encode()), mac):
            raise InstallRefused("this link is not one Sales Copilot made: run /suggest connect again")
        try:
            claims = json.loads(base64.urlsafe_b64decode(data.encode()))
            rep, team, nonce, expires = str(claims["u"]), str(claims["t"]), str(claims["n"]), claims["e"]
        except (ValueError, KeyError, TypeError):
            raise InstallRefused("this link is damaged: run /suggest connect again") from None
        if not isinstance(expires, int) or expires < time.time():
            raise InstallRefused("this link has expired (10 minutes): run /suggest connect again")
        return rep, team, nonce


def _key(rep: str) -> str:
    return f"slack:user-token:{rep}"


_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Sales Copilot</title>"
    "<meta name='viewport' content='width=device-width'></head>"
    "<body style='font-family:sans-serif;max-width:34em;margin:4em auto'>"
    "<h1>{title}</h1><p>{text}</p></body></html>"
)
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the code is in this page's URL
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
}


def page(title: str, text: str, status: int) -> HTMLResponse:
    body = _PAGE.format(title=html.escape(title), text=html.escape(text))
    return HTMLResponse(body, status_code=status, headers=_PAGE_HEADERS)


async def oauth_redirect(tokens: UserTokens, request: Request) -> HTMLResponse:
    """``GET /slack/oauth_redirect``: where Slack sends the rep's browser after they chose."""
    query = request.query_params
    if query.get("error"):
        text = "Nothing changed: Send keeps posting as Sales Copilot, naming you."
        return page("Not connected", text, 200)
    try:
        await tokens.install(query.get("code", "")[:300], query.get("state", "")[:1000])
    except InstallRefused as exc:
        return page("Not connected", str(exc), 400)
    text = "Send now posts as you in Slack. You can close this tab; /suggest disconnect undoes it."
    return page("Connected", text, 200)


class QueryFreeAccessLog(logging.Filter):
    """Drops the query string (the OAuth code) from uvicorn's access log line of the redirect."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and str(args[2]).startswith("/slack/oauth_redirect"):
            record.args = (*args[:2], str(args[2]).split("?", 1)[0], *args[3:])
        return True
