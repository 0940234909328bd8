"""WeCom (企业微信): the callback (/wecom/callback), template cards, and the chat-toolbar sidebar.

``copilot serve`` mounts it through ``missing_settings`` and ``platform``
(see ``connectors/_server.py``).
"""

from ._api import WeComClient, split_text
from ._app import missing_settings, platform
from ._cards import card_for, digest_text
from ._crypto import WeComCrypto, WeComRequestError, signature
from ._deal import describe_deal, parse_deal_command
from ._messages import CardEvent, TextMessage, parse_inbound

__all__ = [
    "CardEvent",
    "TextMessage",
    "WeComClient",
    "WeComCrypto",
    "WeComRequestError",
    "card_for",
    "describe_deal",
    "digest_text",
    "missing_settings",
    "parse_deal_command",
    "parse_inbound",
    "platform",
    "signature",
    "split_text",
]
