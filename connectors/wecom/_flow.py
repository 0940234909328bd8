"""What the app does with a rep's message or card tap, once it has been verified and claimed.

Thin adapter: WeCom input → chat state + Conversation → engine → WeCom messages.
Runs after the callback has been answered; every failure is logged and told to the rep.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from copilot import Conversation, Deal, Message, Participant, SuggestionSet
from copilot.errors import ConnectorError, CopilotError, InputError

from .._state import ChatState, ShownSet
from ._cards import ACTIONS, PICK_KEY, SUGGEST_KEY, ask_card, card_for, clean, parse_button_key
from ._deal import apply_deal_fields, describe_deal, is_deal_command, parse_deal_command
from ._messages import CardEvent, TextMessage

if TYPE_CHECKING:
    from copilot import Copilot

    from .._state import StateStore
    from ._api import WeComClient

__all__ = ["CUSTOMER", "WeComFlow", "chat_key", "conversation_for"]

log = logging.getLogger("copilot.wecom")
CUSTOMER = "customer"
_KEPT_FOR_PRESS = 20
_EDITING = "editing"
_HELP = (
    "把客户的话转发或粘贴给我，我回复三条合规建议话术。\n"
    "设置商机：deal 客户=华东精工 行业=制造业 阶段=方案 产品=MES Cloud\n"
    "查看商机：deal"
)
_EDIT_PROMPT = "请把修改后的话术发给我（原文如下，发送“取消”放弃）："
_PLACEHOLDER_CUSTOMER = "贵司"  # fills {customer} until the rep sets the deal


def chat_key(user: str, external: str | None = None) -> str:
    """State key: the rep's chat with the app, or the rep's chat with one external contact."""
    return f"wecom:{user}" if external is None else f"wecom:{user}:ext:{external}"


def conversation_for(key: str, user: str, state: ChatState) -> Conversation:
    """The Conversation the engine sees: the deal, the rep, and the customer's recent words."""
    return Conversation(
        id=key,
        channel="wecom",
        deal=state.deal or Deal(customer=_PLACEHOLDER_CUSTOMER),
        participants=[
            Participant(id=user, side="rep"),
            Participant(id=CUSTOMER, name="客户", side="customer"),
        ],
        messages=state.messages[-_KEPT_FOR_PRESS:],
    )


class WeComFlow:
    """Handles verified, deduplicated callbacks for one app."""

    def __init__(self, engine: Copilot, store: StateStore, client: WeComClient) -> None:
        self.engine = engine
        self.store = store
        self.client = client

    async def handle(self, item: TextMessage | CardEvent) -> None:
        try:
            if isinstance(item, TextMessage):
                await self.on_text(item)
            else:
                await self.on_card(item)
        except CopilotError as exc:
            log.warning("wecom: %s from a rep failed: %s", item.kind, type(exc).__name__)
            await self._tell(
                item.user,
                f"未能处理：{exc}" if isinstance(exc, InputError) else "暂时无法生成建议，请稍后再试。",
            )
        except Exception as exc:  # the rep hears of it; the log names the error, never the payload
            log.error("wecom: %s from a rep failed unexpectedly: %s", item.kind, type(exc).__name__)
            await self._tell(item.user, "暂时无法生成建议，请稍后再试。")

    async def _tell(self, user: str, text: str) -> None:
        try:
            await self.client.send_text(user, text)
        except ConnectorError as exc:
            log.error("wecom: could not reach rep: %s", exc)

    async def on_text(self, message: TextMessage) -> None:
        text = message.content.strip()
        key = chat_key(message.user)
        if is_deal_command(text):
            await self._tell(message.user, await self.set_deal(key, text))
            return
        if text.lower() in ("help", "帮助", "?", "？"):
            await self._tell(message.user, _HELP)
            return
        state = await asyncio.to_thread(self.store.get, key) or ChatState()
        editing = next((s for s in reversed(state.shown) if _EDITING in s.place and not s.acted), None)
        if editing is not None:
            await self._finish_edit(message.user, key, editing, text)
            return
        if not text:
            return
        state = await self.remember(key, text)
        card = ask_card(f"ask-{message.msg_id}", len(state.messages), deal_set=state.deal is not None)
        await self.client.send_card(message.user, card)

    async def set_deal(self, key: str, text: str) -> str:
        """Apply a ``deal …`` command to the chat; the answer says what is set."""
        current = await asyncio.to_thread(self.store.get, key)
        deal = parse_deal_command(text, current.deal if current else None)
        if deal is not None:
            await asyncio.to_thread(self.store.update, key, lambda s: s.model_copy(update={"deal": deal}))
        return describe_deal(deal)

    async def set_deal_fields(self, key: str, fields: dict[str, str]) -> Deal | None:
        """Set some deal fields of the chat (the sidebar's form)."""
        current = await asyncio.to_thread(self.store.get, key)
        deal = apply_deal_fields(fields, current.deal if current else None)
        if deal is not None:
            await asyncio.to_thread(self.store.update, key, lambda s: s.model_copy(update={"deal": deal}))
        return deal

    async def remember(self, key: str, customer_text: str) -> ChatState:
        """Add the customer's words (redacted by the store) to the chat."""
        said = Message.model_validate({"from": CUSTOMER, "text": customer_text[:8000]})
        return await asyncio.to_thread(
            self.store.update, key, lambda s: s.model_copy(update={"messages": [*s.messages, said]})
        )

    async def suggest(self, key: str, user: str, customer_text: str) -> tuple[SuggestionSet, ChatState]:
        """Add the customer's words to the chat and press Suggest."""
        return await self.press(key, user, await self.remember(key, customer_text))

    async def press(self, key: str, user: str, state: ChatState) -> tuple[SuggestionSet, ChatState]:
        """One Suggest press on the chat's messages; the set shown is remembered for the rep's action."""
        result = await self.engine.suggest(conversation_for(key, user, state), actor=user)
        shown = ShownSet(
            id=result.id, rep=user, suggestions=[s.text for s in result.suggestions], at=time.time()
        )
        state = await asyncio.to_thread(self.store.update, key, lambda s: s.with_set(shown))
        return result, state

    async def on_card(self, event: CardEvent) -> None:
        if event.event_key == SUGGEST_KEY:
            await self.on_suggest(event)
            return
        parsed = parse_button_key(event.event_key)
        if parsed is None:
            log.info("wecom: card event with a key this app did not make; ignored")
            return
        verb, set_id = parsed
        picked = (event.selected.get(PICK_KEY) or ["0"])[0]
        index = int(picked) if picked.isdigit() else 0
        key = chat_key(event.user)
        state = await asyncio.to_thread(self.store.get, key) or ChatState()
        shown = state.shown_set(set_id)
        if shown is None or shown.rep != event.user:
            await self._tell(event.user, "这组建议已过期，请重新发送客户的话。")
            return
        index = min(index, max(len(shown.suggestions) - 1, 0))
        action, label = ACTIONS[verb]
        if verb == "edit":
            marked = shown.model_copy(update={"place": {**shown.place, _EDITING: str(index)}})
            await asyncio.to_thread(self.store.update, key, lambda s: s.with_set(marked))
            original = shown.suggestions[index] if shown.suggestions else ""
            await self._tell(
                event.user, f"请把修改后的话术发给我（原文如下，发送“取消”放弃）：\n{clean(original)}"
            )
        else:
            await self.engine.record_action(
                set_id, action, rep=event.user, index=index if shown.suggestions else None
            )
            await self._mark_acted(key, shown)
            if verb == "adopt" and shown.suggestions:
                await self._tell(event.user, clean(shown.suggestions[index]))
        await self._grey(event, label)

    async def _grey(self, event: CardEvent, label: str) -> None:
        """Replace the tapped card's buttons with one greyed label."""
        if event.response_code:
            try:
                await self.client.update_card_button(event.user, event.response_code, label)
            except ConnectorError as exc:
                log.warning("wecom: card not updated: %s", exc)

    async def on_suggest(self, event: CardEvent) -> None:
        """The rep tapped 建议话术: one press on what the customer said, answered with one card."""
        key = chat_key(event.user)
        state = await asyncio.to_thread(self.store.get, key) or ChatState()
        if not any(m.text.strip() for m in state.messages):
            await self._tell(event.user, _HELP)
            return
        result, state = await self.press(key, event.user, state)
        await self.client.send_card(event.user, card_for(result, state.deal))
        await self._grey(event, "已生成")

    async def _finish_edit(self, user: str, key: str, shown: ShownSet, text: str) -> None:
        if text in ("取消", "cancel"):
            place = {k: v for k, v in shown.place.items() if k != _EDITING}
            reset = shown.model_copy(update={"place": place})
            await asyncio.to_thread(self.store.update, key, lambda s: s.with_set(reset))
            await self._tell(user, "已取消修改。")
            return
        index = int(shown.place[_EDITING])
        await self.engine.record_action(shown.id, "edited", rep=user, index=index, final_text=text)
        await self._mark_acted(key, shown)
        await self._tell(user, "已记录你的修改版本。")

    async def _mark_acted(self, key: str, shown: ShownSet) -> None:
        place = {k: v for k, v in shown.place.items() if k != _EDITING}
        done = shown.model_copy(update={"acted": True, "place": place})
        await asyncio.to_thread(self.store.update, key, lambda s: s.with_set(done))
