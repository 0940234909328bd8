"""The Slack platform in ``copilot serve``: POST /slack/events (or Socket Mode).

With ``COPILOT_SLACK_CLIENT_ID``/``_SECRET`` set it also serves GET
/slack/oauth_redirect, where reps connect their own account (``_install.py``).
Every request is size-checked and its signature verified before Bolt or any log
sees it; a bad or stale signature gets 401 and nothing else happens. Bolt's own
verification is off (ours already ran) and its logger never goes below WARNING,
because Bolt logs whole request bodies at INFO.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from copilot import Settings
from copilot.errors import ConnectorError

from .._server import Platform, ServerState
from ._context import SlackContext, SlackIdentity
from ._install import QueryFreeAccessLog, UserTokens, oauth_redirect
from ._verify import signature_problem

__all__ = ["MAX_BODY_BYTES", "missing_settings", "platform", "quiet_logger", "web_client"]

log = logging.getLogger("copilot.slack")
MAX_BODY_BYTES = 512 * 1024  # Slack's largest payloads (a 40k-character message) fit well within


def missing_settings(settings: Settings) -> list[str]:
    """The Slack settings still needed to mount the app."""
    needed = {
        "COPILOT_SLACK_SIGNING_SECRET": settings.slack_signing_secret,
        "COPILOT_SLACK_BOT_TOKEN": settings.slack_bot_token,
    }
    if settings.slack_socket_mode:
        needed = {
            "COPILOT_SLACK_BOT_TOKEN": settings.slack_bot_token,
            "COPILOT_SLACK_APP_TOKEN": settings.slack_app_token,
        }
    return [name for name, value in needed.items() if value is None or not value.get_secret_value()]


def quiet_logger(name: str) -> logging.Logger:
    """A logger for slack_bolt / slack_sdk that never goes below WARNING: below it they
    log whole request and response bodies (customer text)."""
    logger = logging.getLogger(f"copilot.slack.{name}")
    logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    return logger


def web_client(settings: Settings, token: str) -> AsyncWebClient:
    """A Web API client whose every call goes to ``COPILOT_SLACK_API_URL``; 429s are retried."""
    client = AsyncWebClient(
        token=token, base_url=settings.slack_api_url, timeout=10, logger=quiet_logger("sdk")
    )
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    return client


def platform(server: ServerState) -> Platform:
    """Build the Bolt app and the route; ``auth.test`` runs in the startup hook."""
    from ._listeners import register

    settings = server.settings
    assert settings.slack_bot_token is not None
    token = settings.slack_bot_token.get_secret_value()
    identity = SlackIdentity()
    client = web_client(settings, token)
    bolt_logger = quiet_logger("bolt")

    async def authorize(**_: Any) -> AuthorizeResult:
        if not identity.team_id:
            async with identity.lock:
                if not identity.team_id:
                    await _auth_test(client, identity, settings)
        return identity.authorize_result(token)

    bolt = AsyncApp(
        logger=bolt_logger,
        client=client,
        authorize=authorize,
        request_verification_enabled=False,  # verified by events() before Bolt sees the request
        signing_secret="",
    )
    tokens = UserTokens.from_settings(settings, server.state, client)
    register(bolt, SlackContext(server=server, client=client, identity=identity, tokens=tokens))
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    socket: list[Any] = []

    async def events(request: Request) -> Response:
        return await _handle(request, bolt, secret)

    async def startup() -> None:
        try:
            await _auth_test(client, identity, settings)
        except _Unreachable as exc:  # a refused token stops the start; a network blip does not
            log.error("%s; retrying on the first Slack request", exc)
        if settings.slack_socket_mode:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            assert settings.slack_app_token is not None
            handler = AsyncSocketModeHandler(
                bolt, settings.slack_app_token.get_secret_value(), logger=bolt_logger, web_client=client
            )
            await handler.connect_async()  # type: ignore[no-untyped-call]
            socket.append(handler)

    async def shutdown() -> None:
        for handler in socket:
            await handler.close_async()

    routes = [] if settings.slack_socket_mode else [Route("/slack/events", events, methods=["POST"])]
    if tokens is not None:  # a browser comes back here from Slack's authorize page (also in Socket Mode)

        async def redirect(request: Request) -> Response:
            return await oauth_redirect(tokens, request)

        routes.append(Route("/slack/oauth_redirect", redirect, methods=["GET"]))
        access_log = logging.getLogger("uvicorn.access")
        if not any(isinstance(f, QueryFreeAccessLog) for f in access_log.filters):
            access_log.addFilter(QueryFreeAccessLog())
    return Platform(name="slack", routes=routes, startup=[startup], shutdown=[shutdown])


class _Unreachable(ConnectorError):
    """Slack could not be reached (as opposed to refusing the token)."""


async def _auth_test(client: AsyncWebClient, identity: SlackIdentity, settings: Settings) -> None:
    started = time.perf_counter()
    try:
        reply = await client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "error")
        message = (
            f"Slack refused COPILOT_SLACK_BOT_TOKEN ({error}) at {settings.slack_api_url}auth.test;"
            " check the token"
        )
        raise ConnectorError(message) from None
    except (TimeoutError, SlackClientError, OSError) as exc:
        message = (
            f"cannot reach Slack at {settings.slack_api_url} ({type(exc).__name__});"
            " check COPILOT_SLACK_API_URL"
        )
        raise _Unreachable(message) from None
    identity.team_id = str(reply.get("team_id") or "")
    identity.bot_user_id = str(reply.get("user_id") or "")
    identity.bot_id = str(reply.get("bot_id") or "")
    identity.enterprise_id = reply.get("enterprise_id") or None
    log.info(
        "slack auth.test: team %s, bot %s, %.0f ms",
        identity.team_id,
        identity.bot_user_id,
        (time.perf_counter() - started) * 1000,
    )


async def _handle(request: Request, bolt: AsyncApp, secret: str) -> Response:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return PlainTextResponse("request body too large", status_code=413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return PlainTextResponse("request body too large", status_code=413)
    problem = signature_problem(secret, request.headers, bytes(body))
    if problem is not None:
        log.debug("slack request refused: %s", problem)  # never the body or headers
        return PlainTextResponse("invalid signature", status_code=401)
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        return PlainTextResponse("request body is not UTF-8", status_code=400)
    bolt_request = AsyncBoltRequest(body=text, query=request.url.query, headers=dict(request.headers))
    return to_starlette_response(await bolt.async_dispatch(bolt_request))
