"""What every Slack flow shares in one worker: the server parts, the Slack client, who we are."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from .._server import ServerState
from .._state import ChatState, StateStore
from ._blocks import escape, note_blocks
from ._conversation import Directory
from ._install import UserTokens

__all__ = ["SlackContext", "SlackIdentity"]

log = logging.getLogger("copilot.slack")


class SlackIdentity:
    """Who the app is in Slack, learned once at start from ``auth.test``."""

    def __init__(self) -> None:
        self.team_id = ""
        self.bot_user_id = ""
        self.bot_id = ""
        self.enterprise_id: str | None = None
        self.lock = asyncio.Lock()

    def authorize_result(self, token: str) -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=self.enterprise_id,
            team_id=self.team_id,
            bot_user_id=self.bot_user_id,
            bot_id=self.bot_id,
            bot_token=token,
        )


@dataclass
class SlackContext:
    server: ServerState
    client: AsyncWebClient
    identity: SlackIdentity
    tokens: UserTokens | None = None  # reps' own tokens, when the OAuth client is configured
    directory: Directory = field(init=False)
    duplicates: int = 0

    def __post_init__(self) -> None:
        self.directory = Directory(self.client)

    @property
    def state(self) -> StateStore:
        return self.server.state

    async def get_state(self, key: str) -> ChatState | None:
        return await asyncio.to_thread(self.state.get, key)

    async def tell(
        self,
        text: str,
        *,
        rep: str,
        channel: str,
        thread_ts: str | None = None,
        response_url: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> None:
        """An ephemeral message only ``rep`` sees: through ``response_url`` when the
        platform gave one, else ``chat.postEphemeral``."""
        blocks = blocks if blocks is not None else note_blocks(text)
        text = escape(text)
        if response_url:
            reply = await AsyncWebhookClient(
                response_url, timeout=10, logger=logging.getLogger("copilot.slack.sdk")
            ).send(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
            if reply.status_code == 200:
                return
            log.warning(
                "slack response_url answered %s; falling back to chat.postEphemeral", reply.status_code
            )
        kwargs: dict[str, Any] = {"thread_ts": thread_ts} if thread_ts else {}
        try:
            await self.client.chat_postEphemeral(
                channel=channel, user=rep, text=text, blocks=blocks, **kwargs
            )
        except SlackApiError as exc:
            log.error("slack chat.postEphemeral failed: %s", exc.response.get("error", "error"))
