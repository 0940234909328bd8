"""Sales Copilot: compliant, grounded reply suggestions for B2B sales reps.

Every name is imported on first use (PEP 562), so ``import copilot`` (and
``copilot --help``) stays cheap while the shared models remain importable as
``from copilot import Conversation`` by every other package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._chat import ChatMessage, ChatModel, FunctionChatModel, OpenAIChatModel
    from ._engine import Copilot, redact_conversation
    from ._factories import make_chat_model
    from ._models import (
        ATOM_TYPES,
        ROLES,
        STAGES,
        AtomType,
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
        Role,
        Stage,
        Suggestion,
        SuggestionSet,
    )
    from ._redact import PiiMatch, Redactor, find_pii, redact_text
    from ._settings import Settings
    from ._untrusted import fill_value_ok, terminal_text

_WHERE = {
    "._models": (
        "ATOM_TYPES",
        "ROLES",
        "STAGES",
        "AtomType",
        "CompetitorResponse",
        "ComplianceVerdict",
        "Conversation",
        "CoveredRole",
        "Deal",
        "DecisionChainReport",
        "Evidence",
        "Fallback",
        "Guidance",
        "Message",
        "NextAction",
        "Participant",
        "Provenance",
        "Role",
        "Stage",
        "Suggestion",
        "SuggestionSet",
    ),
    "._chat": ("ChatMessage", "ChatModel", "FunctionChatModel", "OpenAIChatModel"),
    "._redact": ("PiiMatch", "Redactor", "find_pii", "redact_text"),
    "._settings": ("Settings",),
    "._untrusted": ("fill_value_ok", "terminal_text"),
    "._engine": ("Copilot", "redact_conversation"),
    "._factories": ("make_chat_model",),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}

__all__ = [
    "ATOM_TYPES",
    "ROLES",
    "STAGES",
    "AtomType",
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
    "Role",
    "Settings",
    "Stage",
    "Suggestion",
    "SuggestionSet",
    "fill_value_ok",
    "find_pii",
    "make_chat_model",
    "redact_conversation",
    "redact_text",
    "terminal_text",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'copilot' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
