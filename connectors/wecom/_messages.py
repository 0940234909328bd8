"""WeCom callback XML → typed inbound messages, parsed with DTDs and entities refused.

wechatpy has no class for ``template_card_event`` and parses XML with entity support
left to the parser, so both layers (the outer envelope and the decrypted message) are
read here with defusedxml and validated into small pydantic models.
"""

from __future__ import annotations

from typing import Literal
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._crypto import WeComRequestError

__all__ = ["CardEvent", "Envelope", "Inbound", "TextMessage", "parse_envelope", "parse_inbound"]

_MAX_TEXT = 8000


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Envelope(_Model):
    """The outer callback body: who it is for and the encrypted payload."""

    to_user: str = ""
    agent_id: str = ""
    encrypt: str


class TextMessage(_Model):
    """Text a rep sent (typed, pasted or forwarded) to the app."""

    kind: Literal["text"] = "text"
    user: str = Field(min_length=1, max_length=128)
    created: int
    msg_id: str = Field(min_length=1, max_length=64)
    agent_id: str = ""
    content: str = Field(max_length=_MAX_TEXT)

    @property
    def dedup_key(self) -> str:
        return f"wecom:msg:{self.msg_id}"


class CardEvent(_Model):
    """A tap on a template card button (``template_card_event``)."""

    kind: Literal["card"] = "card"
    user: str = Field(min_length=1, max_length=128)
    created: int
    agent_id: str = ""
    event_key: str = Field(min_length=1, max_length=256)
    task_id: str = Field(default="", max_length=128)
    card_type: str = ""
    response_code: str = Field(default="", max_length=512)
    selected: dict[str, list[str]] = Field(default_factory=dict)

    @property
    def dedup_key(self) -> str:
        return f"wecom:event:{self.user}:{self.created}:{self.event_key}:{self.task_id}"


Inbound = TextMessage | CardEvent


def _parse(xml: str | bytes, what: str) -> Element:
    try:
        root = fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise WeComRequestError(f"{what}: DTDs and entities are not accepted") from None
    except ParseError as exc:
        raise WeComRequestError(f"{what}: malformed XML ({exc})") from None
    if root.tag != "xml":
        raise WeComRequestError(f"{what}: the root element must be <xml>, not <{root.tag[:40]}>")
    return root


def _text(root: Element, tag: str) -> str:
    node = root.find(tag)
    return (node.text or "").strip() if node is not None else ""


def parse_envelope(body: bytes) -> Envelope:
    """The POST body: ``<xml><ToUserName/><AgentID/><Encrypt/></xml>``."""
    root = _parse(body, "callback body")
    encrypt = _text(root, "Encrypt")
    if not encrypt:
        raise WeComRequestError("callback body: no <Encrypt> element")
    return Envelope(to_user=_text(root, "ToUserName"), agent_id=_text(root, "AgentID"), encrypt=encrypt)


def parse_inbound(xml: str) -> Inbound | None:
    """The decrypted message; None for kinds the app does not act on (images, enter_agent, …)."""
    root = _parse(xml, "decrypted message")
    kind = _text(root, "MsgType").lower()
    event = _text(root, "Event").lower()
    try:
        if kind == "text":
            return TextMessage(
                user=_text(root, "FromUserName"),
                created=int(_text(root, "CreateTime") or 0),
                msg_id=_text(root, "MsgId"),
                agent_id=_text(root, "AgentID"),
                content=_text(root, "Content"),
            )
        if kind == "event" and event == "template_card_event":
            return CardEvent(
                user=_text(root, "FromUserName"),
                created=int(_text(root, "CreateTime") or 0),
                agent_id=_text(root, "AgentID"),
                event_key=_text(root, "EventKey"),
                task_id=_text(root, "TaskId"),
                card_type=_text(root, "CardType"),
                response_code=_text(root, "ResponseCode"),
                selected=_selected(root),
            )
    except (ValidationError, ValueError) as exc:
        problem = exc.errors()[0]["loc"] if isinstance(exc, ValidationError) else "CreateTime"
        raise WeComRequestError(f"decrypted message: invalid field {problem}") from None
    return None


def _selected(root: Element) -> dict[str, list[str]]:
    """``<SelectedItems><SelectedItem><QuestionKey/><OptionIds><OptionId/>…`` → {key: [ids]}."""
    chosen: dict[str, list[str]] = {}
    for item in root.iterfind("SelectedItems/SelectedItem"):
        key = _text(item, "QuestionKey")
        if key:
            chosen[key] = [(o.text or "").strip() for o in item.iterfind("OptionIds/OptionId")]
    return chosen
