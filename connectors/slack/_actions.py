"""The rep's answer to a suggestion set: buttons, the edit modal, or a reply typed in the chat.

Each lands in the audit log through the engine (``record_action`` /
``record_feedback``) with the set id and the suggestion's index; a set takes one
final action (the audit log refuses a second, in any worker).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.webhook.async_client import AsyncWebhookClient

from audit import RepAction, edit_distance
from copilot.errors import ActionRefused

from .._state import ChatState, ShownSet
from ._blocks import ACTION_IDS, edit_modal, escape, parse_value
from ._context import SlackContext
from ._conversation import chat_key, slack_text
from ._install import DEAD_TOKEN_ERRORS

__all__ = ["classify_reply", "on_action", "on_edit_submitted", "on_message"]

log = logging.getLogger("copilot.slack")
EDITED_AT_LEAST = 0.6  # similarity (1 - distance / length) above which a typed reply is an edit
MAX_COMPARED = 2000


async def on_action(ctx: SlackContext, body: dict[str, Any]) -> None:
    action = (body.get("actions") or [{}])[0]
    user = str((body.get("user") or {}).get("id", ""))
    response_url = str(body.get("response_url") or "") or None
    if action.get("action_id") == ACTION_IDS["connect"]:
        return
    try:
        set_id, index, chat = parse_value(str(action.get("value") or ""))
    except ValueError:
        log.warning("slack action with a foreign value ignored (%s)", action.get("action_id"))
        return
    state = await ctx.get_state(chat)
    shown = state.shown_set(set_id) if state else None
    channel = str((body.get("channel") or {}).get("id") or (shown.place.get("channel") if shown else ""))
    if shown is None or (index is not None and index >= len(shown.suggestions)):
        await ctx.tell(
            "These suggestions are no longer available; press Suggest again.", rep=user, channel=channel
        )
        return
    kind = action.get("action_id")
    engine = ctx.server.copilot
    try:
        if kind in (ACTION_IDS["helpful"], ACTION_IDS["unhelpful"]):
            await engine.record_feedback(set_id, kind == ACTION_IDS["helpful"], rep=user, index=index)
        elif kind == ACTION_IDS["dismiss"]:
            await engine.record_action(set_id, "dismissed", rep=user)
            await _mark_acted(ctx, chat, set_id)
            await _replace(response_url, None)
        elif kind == ACTION_IDS["send"] and index is not None:
            text = shown.suggestions[index]
            await engine.record_action(set_id, "sent_as_is", rep=user, index=index)
            await _mark_acted(ctx, chat, set_id)
            await _post_as_rep(ctx, shown, text)
            await _replace(response_url, f"✅ {escape(text)}")
        elif kind == ACTION_IDS["edit"] and index is not None:
            metadata = json.dumps({"s": set_id, "i": index, "c": chat}, separators=(",", ":"))
            view = edit_modal(shown.suggestions[index], metadata, shown.place.get("language", "en"))
            await ctx.client.views_open(trigger_id=str(body.get("trigger_id", "")), view=view)
    except ActionRefused as exc:
        await ctx.tell(str(exc), rep=user, channel=channel, thread_ts=shown.place.get("thread_ts") or None)
    except SlackApiError as exc:
        error = exc.response.get("error", "error")
        log.error("slack %s failed: %s", kind, error)
        await ctx.tell(f"Slack refused that ({error}).", rep=user, channel=channel)


async def on_edit_submitted(ctx: SlackContext, body: dict[str, Any]) -> None:
    """The "Edit & send" modal was submitted: post the rep's text and log it as edited."""
    view = body.get("view") or {}
    user = str((body.get("user") or {}).get("id", ""))
    try:
        set_id, index, chat = parse_value(str(view.get("private_metadata") or ""))
    except ValueError:
        return
    text = str(
        ((view.get("state") or {}).get("values") or {}).get("reply", {}).get("text", {}).get("value") or ""
    )
    state = await ctx.get_state(chat)
    shown = state.shown_set(set_id) if state else None
    if shown is None or index is None or index >= len(shown.suggestions) or not text.strip():
        return
    action: RepAction = "sent_as_is" if text.strip() == shown.suggestions[index].strip() else "edited"
    try:
        final = None if action == "sent_as_is" else text
        await ctx.server.copilot.record_action(
            set_id, action, rep=user, index=index, final_text=final, names=await _names(ctx, state)
        )
    except ActionRefused as exc:
        await ctx.tell(str(exc), rep=user, channel=shown.place.get("channel", ""))
        return
    await _mark_acted(ctx, chat, set_id)
    await _post_as_rep(ctx, shown, text)


async def on_message(ctx: SlackContext, event: dict[str, Any], window_s: float) -> None:
    """A message typed in a chat where its author was just shown suggestions: the rep's
    final action (``sent_as_is``/``edited`` when it matches one closely, else ``wrote_own``)."""
    user = str(event.get("user") or "")
    if not user or event.get("bot_id") or event.get("subtype") not in (None, "thread_broadcast"):
        return
    channel = str(event.get("channel") or "")
    thread_ts = event.get("thread_ts")
    now = time.time()
    for key in dict.fromkeys([chat_key(channel, thread_ts), chat_key(channel)]):
        state = await ctx.get_state(key)
        pending = [s for s in (state.shown if state else []) if s.rep == user and not s.acted]
        pending = [s for s in pending if now - s.at <= window_s]
        if pending:
            shown = pending[-1]
            text = slack_text(str(event.get("text") or ""), {})
            action, index = classify_reply(text, shown.suggestions)
            try:
                await ctx.server.copilot.record_action(
                    shown.id,
                    action,
                    rep=user,
                    index=index,
                    final_text=text,
                    names=await _names(ctx, state),
                )
            except ActionRefused:
                log.info("slack reply after set %s: already acted on", shown.id)
            await _mark_acted(ctx, key, shown.id)
            return


async def _names(ctx: SlackContext, state: ChatState | None) -> list[str]:
    """The chat's participants' names (the state keeps only their pseudonyms): the rep's
    final text is logged with the pseudonyms the press gave them."""
    return [await ctx.directory.name(p.id) for p in (state.participants if state else [])]


def classify_reply(text: str, suggestions: list[str]) -> tuple[RepAction, int | None]:
    """``sent_as_is`` for an exact copy, ``edited`` for a close one, else ``wrote_own``."""
    typed = " ".join(text.split())[:MAX_COMPARED]
    best: tuple[float, int] | None = None
    for index, suggestion in enumerate(suggestions):
        candidate = " ".join(suggestion.split())[:MAX_COMPARED]
        if typed == candidate:
            return "sent_as_is", index
        longest = max(len(typed), len(candidate)) or 1
        similarity = 1 - edit_distance(typed, candidate) / longest
        if best is None or similarity > best[0]:
            best = (similarity, index)
    if best is not None and best[0] >= EDITED_AT_LEAST:
        return "edited", best[1]
    return "wrote_own", None


async def _mark_acted(ctx: SlackContext, chat: str, set_id: str) -> None:
    def change(state: ChatState) -> ChatState:
        shown = state.shown_set(set_id)
        return state if shown is None else state.with_set(shown.model_copy(update={"acted": True}))

    await asyncio.to_thread(ctx.state.update, chat, change)


async def _post_as_rep(ctx: SlackContext, shown: ShownSet, text: str) -> None:
    """Post in the chat as the rep when they connected their account (/suggest connect),
    else as the bot, naming the rep who chose the reply."""
    kwargs: dict[str, Any] = {"thread_ts": shown.place["thread_ts"]} if shown.place.get("thread_ts") else {}
    channel = shown.place.get("channel", "")
    token = await ctx.tokens.token(shown.rep) if ctx.tokens else None
    if token and ctx.tokens:
        try:
            await ctx.client.chat_postMessage(token=token, channel=channel, text=text, **kwargs)
            return
        except SlackApiError as exc:
            error = str(exc.response.get("error", "error"))
            log.warning("slack post as rep %s failed (%s); posting as the bot", shown.rep, error)
            if error in DEAD_TOKEN_ERRORS:
                await ctx.tokens.forget(shown.rep, revoke=False)
                note = "Your Slack connection stopped working, so Sales Copilot posted for you."
                note += " To post as yourself again: /suggest connect"
                await ctx.tell(note, rep=shown.rep, channel=channel, thread_ts=kwargs.get("thread_ts"))
    await ctx.client.chat_postMessage(
        channel=channel,
        text=text,
        blocks=[
            {"type": "section", "text": {"type": "mrkdwn", "text": escape(text)}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"<@{shown.rep}> via Sales Copilot"}],
            },
        ],
        **kwargs,
    )


async def _replace(response_url: str | None, text: str | None) -> None:
    """Replace the ephemeral answer with a short note, or delete it (``text`` None)."""
    if not response_url:
        return
    hook = AsyncWebhookClient(response_url, timeout=10, logger=logging.getLogger("copilot.slack.sdk"))
    if text is None:
        await hook.send_dict({"delete_original": True})
    else:
        await hook.send(text=text[:3000], replace_original=True)
