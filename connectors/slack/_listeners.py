"""Bolt listeners: acknowledge at once, then work in the background, once per delivery.

Every listener acks first (Slack's 3-second limit) and hands the work to a task.
Before working, it claims the delivery's id in the state store (event id,
trigger id, action timestamp, view id): a retried or replayed delivery, in this
worker or any other, finds the claim taken and is not processed again.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from ._actions import on_action, on_edit_submitted, on_message
from ._blocks import EDIT_CALLBACK
from ._context import SlackContext
from ._press import on_command, on_shortcut

__all__ = ["SHORTCUT_CALLBACK", "register"]

log = logging.getLogger("copilot.slack")
SHORTCUT_CALLBACK = "suggest_reply"
Work = Callable[[SlackContext, dict[str, Any]], Awaitable[None]]


def register(bolt: AsyncApp, ctx: SlackContext) -> None:
    """Attach every listener to ``bolt`` (URL verification is Bolt's own)."""
    window = float(ctx.server.settings.slack_reply_window_s)

    async def message_work(ctx: SlackContext, body: dict[str, Any]) -> None:
        await on_message(ctx, body.get("event") or {}, window)

    bolt.command("/suggest")(_later(ctx, "command", on_command, _trigger_key("command")))
    bolt.shortcut(SHORTCUT_CALLBACK)(_later(ctx, "shortcut", on_shortcut, _trigger_key("shortcut")))
    bolt.action(re.compile(r"^copilot_"))(_later(ctx, "action", on_action, _action_key))
    bolt.view_submission(EDIT_CALLBACK)(_later(ctx, "edit", on_edit_submitted, _view_key))
    bolt.event("message")(_later(ctx, "message", message_work, _event_key))


def _later(
    ctx: SlackContext, name: str, work: Work, key_of: Callable[[dict[str, Any]], str]
) -> Callable[[AsyncAck, dict[str, Any]], Awaitable[None]]:
    async def listener(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        ctx.server.spawn(_once(ctx, key_of(body), work, body), name=f"slack {name}")

    return listener


async def _once(ctx: SlackContext, key: str, work: Work, body: dict[str, Any]) -> None:
    if key.rsplit(":", 1)[-1] and not await asyncio.to_thread(ctx.state.claim, key):
        ctx.duplicates += 1
        log.info("slack delivery %s already processed; skipped", key.split(":", 2)[1])
        return
    await work(ctx, body)


def _trigger_key(kind: str) -> Callable[[dict[str, Any]], str]:
    def key(body: dict[str, Any]) -> str:
        return f"slack:{kind}:{body.get('trigger_id', '')}"

    return key


def _action_key(body: dict[str, Any]) -> str:
    action = (body.get("actions") or [{}])[0]
    user = (body.get("user") or {}).get("id", "")
    return f"slack:action:{user}:{action.get('action_ts', '')}:{action.get('action_id', '')}"


def _view_key(body: dict[str, Any]) -> str:
    view = body.get("view") or {}
    return f"slack:view:{view.get('id', '')}:{view.get('hash', '')}"


def _event_key(body: dict[str, Any]) -> str:
    return f"slack:event:{body.get('event_id', '')}"
