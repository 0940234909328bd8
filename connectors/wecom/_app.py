"""How ``copilot serve`` mounts WeCom: settings → crypto, API client, flow, callback and sidebar."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from starlette.routing import Route

from copilot import Settings
from copilot.errors import ConfigError

from .._server import Platform
from ._api import WeComClient
from ._callback import CallbackEndpoint
from ._crypto import WeComCrypto
from ._flow import WeComFlow
from ._sidebar import Sidebar

if TYPE_CHECKING:
    from .._server import ServerState

__all__ = ["missing_settings", "platform"]

log = logging.getLogger("copilot.wecom")

_REQUIRED = ("wecom_corp_id", "wecom_token", "wecom_aes_key", "wecom_secret")


def missing_settings(settings: Settings) -> list[str]:
    """The COPILOT_WECOM_* variables the callback needs and lacks (the agent id is only needed to send)."""
    return [f"COPILOT_{name.upper()}" for name in _REQUIRED if not getattr(settings, name)]


def platform(server: ServerState) -> Platform:
    """The WeCom routes for one worker, and the API client to close at shutdown."""
    settings = server.settings
    if missing_settings(settings):
        raise ConfigError(
            f"WeCom needs {', '.join(missing_settings(settings))} (see the README's WeCom setup)"
        )
    corp_id = settings.wecom_corp_id or ""
    secret = settings.wecom_secret.get_secret_value() if settings.wecom_secret else ""
    aes_key = settings.wecom_aes_key.get_secret_value() if settings.wecom_aes_key else ""
    token = settings.wecom_token.get_secret_value() if settings.wecom_token else ""
    try:
        crypto = WeComCrypto(token, aes_key, corp_id)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if settings.wecom_agent_id is None:
        log.warning(
            "wecom: COPILOT_WECOM_AGENT_ID is not set: callbacks are verified but no reply can be sent"
        )
    client = WeComClient(settings.wecom_api_url, corp_id, secret, settings.wecom_agent_id)
    flow = WeComFlow(server.copilot, server.state, client)
    callback = CallbackEndpoint(crypto, server.state, flow, server.spawn)
    sidebar = Sidebar(client, flow, corp_id, (secret + aes_key).encode())
    return Platform(
        name="wecom",
        routes=[Route("/wecom/callback", callback.handle, methods=["GET", "POST"]), *sidebar.routes()],
        shutdown=[client.close],
    )
