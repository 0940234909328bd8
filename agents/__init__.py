"""The agents of one Suggest press: reply, competitor, decision chain, compliance guard."""

from ._base import Agent, AgentContext
from ._competitor import CompetitorAgent, CompetitorMatcher
from ._compliance import RULES, ComplianceGuard, GuardResult, Rule
from ._decision_chain import DecisionChainAgent
from ._reply import GuidanceAgent, ReplyAgent
from ._roles import find_roles, role_of_title

__all__ = [
    "RULES",
    "Agent",
    "AgentContext",
    "CompetitorAgent",
    "CompetitorMatcher",
    "ComplianceGuard",
    "DecisionChainAgent",
    "GuardResult",
    "GuidanceAgent",
    "ReplyAgent",
    "Rule",
    "find_roles",
    "role_of_title",
]
