"""A Suggest press (shortcut or ``/suggest``) and the ``/suggest deal`` commands."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from copilot import Deal, redact_conversation
from copilot.errors import Busy, CopilotError, InputError

from .._state import ChatState, ShownSet
from ._blocks import answer_blocks, answer_text, connect_blocks
from ._command import USAGE, merge_deal, parse_command
from ._context import SlackContext
from ._conversation import chat_key, read_conversation

__all__ = ["on_command", "on_shortcut", "press"]

log = logging.getLogger("copilot.slack")
BUSY = "Sales Copilot is busy with other presses right now: press Suggest again in a few seconds."


async def on_command(ctx: SlackContext, body: dict[str, Any]) -> None:
    """``/suggest`` with its options; mistakes are explained to the rep only."""
    rep, channel = str(body.get("user_id", "")), str(body.get("channel_id", ""))
    response_url = str(body.get("response_url") or "") or None
    try:
        command = parse_command(str(body.get("text") or ""))
    except InputError as exc:
        await ctx.tell(str(exc), rep=rep, channel=channel, response_url=response_url)
        return
    if command.kind == "help":
        await ctx.tell(USAGE, rep=rep, channel=channel, response_url=response_url)
    elif command.kind == "show_deal":
        state = await ctx.get_state(chat_key(channel))
        deal = state.deal if state else None
        text = f"Deal for this channel: {deal_line(deal)}" if deal else f"No deal set yet.\n{USAGE}"
        await ctx.tell(text, rep=rep, channel=channel, response_url=response_url)
    elif command.kind in ("connect", "disconnect"):
        await _connect(ctx, command.kind, rep=rep, channel=channel, response_url=response_url)
    elif command.kind == "set_deal":
        try:
            deal = await asyncio.to_thread(_set_deal, ctx, channel, command.fields)
        except InputError as exc:
            await ctx.tell(str(exc), rep=rep, channel=channel, response_url=response_url)
            return
        log.info("slack deal set for channel %s", channel)
        await ctx.tell(f"Deal set: {deal_line(deal)}", rep=rep, channel=channel, response_url=response_url)
    else:
        await press(ctx, rep=rep, channel=channel, thread_ts=None, response_url=response_url)


async def on_shortcut(ctx: SlackContext, body: dict[str, Any]) -> None:
    """The "Suggest reply" message shortcut: answer in the message's thread."""
    message = body.get("message") or {}
    rep = str((body.get("user") or {}).get("id", ""))
    channel = str((body.get("channel") or {}).get("id", ""))
    thread_ts = message.get("thread_ts") or (message.get("ts") if message.get("reply_count") else None)
    await press(ctx, rep=rep, channel=channel, thread_ts=thread_ts, response_url=None)


async def press(
    ctx: SlackContext, *, rep: str, channel: str, thread_ts: str | None, response_url: str | None
) -> None:
    """Read the chat, run the engine, remember what was shown, answer the rep privately."""
    started = time.perf_counter()
    channel_state = await ctx.get_state(chat_key(channel))
    deal = channel_state.deal if channel_state else None
    try:
        conversation = await read_conversation(
            ctx.client,
            ctx.directory,
            home_team=ctx.identity.team_id,
            customers=set(ctx.server.settings.slack_customer_users),
            channel=channel,
            rep=rep,
            thread_ts=thread_ts,
            deal=deal,
        )
        result = await ctx.server.copilot.suggest(conversation, actor=rep)
    except Busy:
        log.warning("slack press in %s refused: busy", channel)
        await ctx.tell(BUSY, rep=rep, channel=channel, thread_ts=thread_ts, response_url=response_url)
        return
    except CopilotError as exc:
        log.warning("slack press in %s failed: %s", channel, type(exc).__name__)
        await ctx.tell(
            f"Suggest could not run: {exc}",
            rep=rep,
            channel=channel,
            thread_ts=thread_ts,
            response_url=response_url,
        )
        return
    key = conversation.id
    seen = redact_conversation(conversation)
    shown = ShownSet(
        id=result.id,
        rep=rep,
        suggestions=[s.text for s in result.suggestions],
        at=time.time(),
        place={"channel": channel, "thread_ts": thread_ts or "", "language": result.language},
    )

    def remember(state: ChatState) -> ChatState:
        return state.model_copy(
            update={"participants": seen.participants, "messages": seen.messages}
        ).with_set(shown)

    await asyncio.to_thread(ctx.state.update, key, remember)
    blocks = answer_blocks(
        result, chat=key, deal_line=deal_line(conversation.deal), deal_set=deal is not None
    )
    await ctx.tell(
        answer_text(result),
        blocks=blocks,
        rep=rep,
        channel=channel,
        thread_ts=thread_ts,
        response_url=response_url,
    )
    log.info(
        "slack press answered: set %s in %.0f ms (engine %.0f ms)",
        result.id,
        (time.perf_counter() - started) * 1000,
        result.timings_ms.get("total", 0.0),
    )


def deal_line(deal: Deal | None) -> str:
    if deal is None:
        return "no deal set"
    parts = [deal.customer, deal.industry or "any industry", deal.stage, deal.product]
    return " · ".join(p for p in parts if p)


async def _connect(ctx: SlackContext, kind: str, *, rep: str, channel: str, response_url: str | None) -> None:
    """``/suggest connect``: a button to Slack's authorize page; ``disconnect``: forget the token."""
    if ctx.tokens is None:
        text = (
            "Send posts as Sales Copilot, naming you: this workspace's admin has not enabled"
            " posting as yourself (COPILOT_SLACK_CLIENT_ID and COPILOT_SLACK_CLIENT_SECRET)."
        )
        await ctx.tell(text, rep=rep, channel=channel, response_url=response_url)
    elif kind == "disconnect":
        had = await ctx.tokens.forget(rep)
        text = "Disconnected: Send posts as Sales Copilot again, naming you."
        text = text if had else "You were not connected."
        await ctx.tell(text, rep=rep, channel=channel, response_url=response_url)
    else:
        url = ctx.tokens.authorize_url(rep, ctx.identity.team_id)
        text = "Let Send post replies as you: Slack asks you to allow it (the link works once, for 10 min)."
        blocks = connect_blocks(text, url)
        await ctx.tell(text, blocks=blocks, rep=rep, channel=channel, response_url=response_url)


def _set_deal(ctx: SlackContext, channel: str, fields: dict[str, str]) -> Deal:
    def change(state: ChatState) -> ChatState:
        return state.model_copy(update={"deal": merge_deal(state.deal, fields)})

    stored = ctx.state.update(chat_key(channel), change)
    assert stored.deal is not None
    return stored.deal
