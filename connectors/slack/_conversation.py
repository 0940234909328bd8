"""Read a Slack channel or thread into a ``Conversation``: who is rep, who is customer.

The rep is whoever pressed Suggest. A customer is a user whose ``team_id`` is not
the app's own workspace (a Slack Connect channel) or one listed in
``COPILOT_SLACK_CUSTOMER_USERS``; other colleagues are ``partner``s, so their
titles never count as the buyer's. Profile titles feed the decision chain.
"""

from __future__ import annotations

import html
import re
import time
from datetime import UTC, datetime
from typing import Any, Literal

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from copilot import Conversation, Deal, Message, Participant
from copilot.errors import ConnectorError

__all__ = ["HISTORY_LIMIT", "Directory", "chat_key", "read_conversation", "slack_text"]

HISTORY_LIMIT = 30
MAX_TEXT = 8000
USER_TTL_S = 3600
_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]*)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(\w+)(?:\^[^>|]*)?(?:\|([^>]*))?>")
_HINT = {
    "not_in_channel": "invite the app to this channel first (/invite @Sales Copilot)",
    "channel_not_found": "invite the app to this channel first (/invite @Sales Copilot)",
    "missing_scope": "reinstall the app with the scopes in connectors/slack/manifest.yaml",
}


def chat_key(channel: str, thread_ts: str | None = None) -> str:
    """The state key of a channel (its deal) or of one thread in it."""
    return f"slack:{channel}:{thread_ts}" if thread_ts else f"slack:{channel}"


class Directory:
    """users.info answers, cached for an hour per worker."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._users: dict[str, tuple[float, dict[str, Any]]] = {}

    async def user(self, user_id: str) -> dict[str, Any]:
        cached = self._users.get(user_id)
        if cached and time.monotonic() - cached[0] < USER_TTL_S:
            return cached[1]
        try:
            reply = await self.client.users_info(user=user_id)
            user: dict[str, Any] = reply.get("user") or {}
        except SlackApiError:
            user = {"id": user_id}  # deleted or invisible user: treat by the rules below
        self._users[user_id] = (time.monotonic(), user)
        return user

    async def name(self, user_id: str) -> str:
        """The name a chat shows for ``user_id`` (what the press's redactor pseudonymizes)."""
        return display_name(await self.user(user_id), user_id)


def display_name(user: dict[str, Any], user_id: str) -> str:
    profile = user.get("profile") or {}
    return str(profile.get("real_name") or user.get("real_name") or user.get("name") or user_id)


async def read_conversation(
    client: AsyncWebClient,
    directory: Directory,
    *,
    home_team: str,
    customers: set[str],
    channel: str,
    rep: str,
    thread_ts: str | None,
    deal: Deal | None,
) -> Conversation:
    """The thread (or the channel's recent history) as a conversation, oldest first."""
    try:
        if thread_ts:
            reply = await client.conversations_replies(channel=channel, ts=thread_ts, limit=HISTORY_LIMIT)
        else:
            reply = await client.conversations_history(channel=channel, limit=HISTORY_LIMIT)
    except SlackApiError as exc:
        error = str(exc.response.get("error", "error"))
        hint = _HINT.get(error, "check the app's scopes")
        raise ConnectorError(f"Slack could not read channel {channel} ({error}): {hint}") from None
    raw = [m for m in reply.get("messages") or [] if _is_person_message(m)]
    raw.sort(key=lambda m: float(m.get("ts") or 0))
    raw = raw[-HISTORY_LIMIT:]
    names: dict[str, str] = {}
    participants: dict[str, Participant] = {}
    for user_id in dict.fromkeys([rep] + [str(m["user"]) for m in raw]):
        user = await directory.user(user_id)
        side = _side(user, user_id, rep=rep, home_team=home_team, customers=customers)
        profile = user.get("profile") or {}
        name = display_name(user, user_id)
        names[user_id] = name
        participants[user_id] = Participant(
            id=user_id, name=name[:200], side=side, title=str(profile.get("title") or "")[:200]
        )
    messages = [
        Message.model_validate(
            {
                "from": str(m["user"]),
                "at": _when(str(m.get("ts") or "")),
                "text": slack_text(str(m["text"]), names),
            }
        )
        for m in raw
    ]
    messages = [m for m in messages if m.text.strip()]
    if not messages:
        raise ConnectorError("there is no message to answer here yet: press Suggest on a customer's message")
    return Conversation(
        id=chat_key(channel, thread_ts),
        channel="slack",
        deal=deal or Deal(customer=_default_customer(messages)),
        participants=list(participants.values()),
        messages=messages,
    )


def slack_text(text: str, names: dict[str, str]) -> str:
    """Slack mrkdwn as plain text: mentions as @name, links as their label, entities decoded."""
    text = _MENTION.sub(lambda m: "@" + names.get(m.group(1), m.group(1)), text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1).removeprefix("mailto:"), text)
    text = _SPECIAL.sub(lambda m: m.group(2) or "@" + m.group(1), text)
    return html.unescape(text)[:MAX_TEXT]


def _is_person_message(message: dict[str, Any]) -> bool:
    subtype = message.get("subtype")
    return (
        message.get("type") == "message"
        and bool(message.get("user"))
        and not message.get("bot_id")
        and subtype in (None, "thread_broadcast", "file_share")
        and bool(str(message.get("text") or "").strip())
    )


def _side(
    user: dict[str, Any], user_id: str, *, rep: str, home_team: str, customers: set[str]
) -> Literal["rep", "customer", "partner"]:
    if user_id == rep:
        return "rep"
    team = user.get("team_id") or (user.get("profile") or {}).get("team")
    if user_id in customers or user.get("is_stranger") or (team and home_team and team != home_team):
        return "customer"
    return "partner"


def _when(ts: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(ts), tz=UTC)
    except ValueError:
        return None


def _default_customer(messages: list[Message]) -> str:
    """Until ``/suggest deal`` names the customer, a neutral word in the chat's language."""
    text = " ".join(m.text for m in messages)
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    return "贵司" if cjk * 2 >= len(text.split()) and cjk else "your team"
