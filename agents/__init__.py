"""The agents of one Suggest press: reply, competitor, decision chain, compliance guard.

Every agent the engine runs answers with provenance (:class:`AgentResult`): the
grounded ones through :class:`Grounded`, the LLM reply through :class:`WithFallback`
with the grounded reply agent as its safety net.
"""

from ._base import Agent, AgentContext, AgentResult, PlainAgent
from ._competitor import CompetitorAgent, CompetitorMatcher
from ._compliance import RULES, ComplianceGuard, GuardResult, Rule
from ._decision_chain import DecisionChainAgent
from ._grounding import Grounding, claims
from ._llm_reply import LLMReplyAgent, ReplyDraft, ReplyDrafts
from ._provenance import Grounded, LLMAgent, Ungrounded, WithFallback
from ._reply import GuidanceAgent, ReplyAgent
from ._roles import find_roles, role_of_title

__all__ = [
    "RULES",
    "Agent",
    "AgentContext",
    "AgentResult",
    "CompetitorAgent",
    "CompetitorMatcher",
    "ComplianceGuard",
    "DecisionChainAgent",
    "Grounded",
    "Grounding",
    "GuardResult",
    "GuidanceAgent",
    "LLMAgent",
    "LLMReplyAgent",
    "PlainAgent",
    "ReplyAgent",
    "ReplyDraft",
    "ReplyDrafts",
    "Rule",
    "Ungrounded",
    "WithFallback",
    "claims",
    "find_roles",
    "role_of_title",
]
