"""Sales Copilot: compliant, grounded reply suggestions for B2B sales reps.

The engine (:class:`Copilot`) is imported lazily so that ``import copilot``
stays cheap and the shared models can be used by every other package.
"""

from typing import TYPE_CHECKING, Any

from ._chat import ChatMessage, ChatModel, FunctionChatModel, OpenAIChatModel
from ._models import (
    ROLES,
    STAGES,
    CompetitorResponse,
    ComplianceVerdict,
    Conversation,
    CoveredRole,
    Deal,
    DecisionChainReport,
    Evidence,
    Fallback,
    Guidance,
    Message,
    NextAction,
    Participant,
    Provenance,
    Suggestion,
    SuggestionSet,
)
from ._redact import PiiMatch, Redactor, find_pii, redact_text
from ._settings import Settings

if TYPE_CHECKING:
    from ._engine import Copilot, redact_conversation

__all__ = [
    "ROLES",
    "STAGES",
    "ChatMessage",
    "ChatModel",
    "CompetitorResponse",
    "ComplianceVerdict",
    "Conversation",
    "Copilot",
    "CoveredRole",
    "Deal",
    "DecisionChainReport",
    "Evidence",
    "Fallback",
    "FunctionChatModel",
    "Guidance",
    "Message",
    "NextAction",
    "OpenAIChatModel",
    "Participant",
    "PiiMatch",
    "Provenance",
    "Redactor",
    "Settings",
    "Suggestion",
    "SuggestionSet",
    "find_pii",
    "redact_conversation",
    "redact_text",
]


def __getattr__(name: str) -> Any:
    if name in ("Copilot", "redact_conversation"):
        from . import _engine

        return getattr(_engine, name)
    raise AttributeError(f"module 'copilot' has no attribute {name!r}")
