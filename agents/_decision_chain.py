"""Decision-chain agent: which buying roles are covered, which the stage still needs."""

from __future__ import annotations

import re
from typing import Literal

from copilot._models import Conversation, CoveredRole, DecisionChainReport, Evidence, NextAction, Role
from knowledge import Atom, clauses, normalize
from prompts import PromptTemplate, load_prompt

from ._base import AgentContext
from ._roles import find_roles, role_of_title

__all__ = ["DecisionChainAgent"]

State = Literal["involved", "reviewed", "approved"]
_STATE_RANK: dict[str, int] = {"involved": 0, "reviewed": 1, "approved": 2}
# Cue words, matched in NFKC-casefolded clauses. Negation wins over any cue.
_NEGATION = re.compile(
    r"还没|还未|尚未|没有|没参与|未参与|不参与|不在|not yet|hasn't|haven't|has not|have not|"
    r"isn't|aren't|no one from|nobody from|not involved|without"
)
_CUES: tuple[tuple[State, re.Pattern[str]], ...] = (
    (
        "approved",
        re.compile(
            r"认可|同意|批准|通过|拍板|签字|没问题|approved|signed off|sign-off|"
            r"on board|happy with|agreed|green light|likes? the"
        ),
    ),
    (
        "reviewed",
        re.compile(
            r"看过|看了|审阅|审过|评估过|过目|研究过|reviewed|looked at|has seen|"
            r"have seen|went through|checked"
        ),
    ),
    (
        "involved",
        re.compile(
            r"加入|进群|参与|拉了|拉进|参加|会来|一起来|也在|joined|looped in|"
            r"cc'd|will join|is joining|brought in|involved|on the call"
        ),
    ),
)


class DecisionChainAgent:
    """Maps titles and explicit statements to roles and compares with the playbook."""

    name = "decision_chain"

    def __init__(self, prompt: PromptTemplate | None = None) -> None:
        self.prompt = prompt or load_prompt("decision_chain")

    async def run(self, ctx: AgentContext) -> DecisionChainReport:
        deal = ctx.conversation.deal
        playbook = _playbook_for(ctx.retrieval.playbooks, deal.industry, ctx.language)
        required = list(playbook.required_roles.get(deal.stage, [])) if playbook else []
        covered = _covered_roles(ctx)
        covered_names = {c.role for c in covered}
        missing = [role for role in required if role not in covered_names]
        return DecisionChainReport(
            required_roles=required,
            covered=covered,
            missing_roles=missing,
            next_action=self._next_action(ctx, covered, missing),
            playbook=playbook.id if playbook else None,
        )

    def _next_action(self, ctx: AgentContext, covered: list[CoveredRole], missing: list[Role]) -> NextAction:
        lang, data = ctx.language, self.prompt.data
        stage = ctx.conversation.deal.stage
        names: dict[str, str] = data["role_names"][lang]
        joiner = self.prompt.text("joiner", lang)
        hours = int(data["deadline_hours"].get(stage, 72))
        by_state: dict[str, list[str]] = {}
        for role in covered:
            by_state.setdefault(role.state, []).append(names[role.role])
        parts = [
            self.prompt.text("covered", lang, roles=joiner.join(roles), state=data["states"][lang][state])
            for state, roles in sorted(by_state.items(), key=lambda kv: -_STATE_RANK[kv[0]])
        ]
        summary = ("；" if lang == "zh" else "; ").join(parts) or self.prompt.text("none_covered", lang)
        if missing:
            text = self.prompt.text(
                "missing",
                lang,
                summary=summary,
                hours=hours,
                roles=joiner.join(names[r] for r in missing),
                meeting=data["meetings"][lang][missing[0]],
            )
        else:
            step = data["next_steps"][lang].get(stage, "")
            text = self.prompt.text("complete", lang, summary=summary, hours=hours, step=step)
        return NextAction(text=text, deadline_hours=hours)


def _playbook_for(playbooks: list[Atom], industry: str, language: str) -> Atom | None:
    """The industry's playbook, else the all-industries one; the chat's language first."""

    def rank(atom: Atom) -> tuple[int, int, str]:
        specific = 0 if industry and industry in atom.industries else 1
        return (specific, 0 if atom.language == language else 1, atom.id)

    usable = [a for a in playbooks if not a.industries or (industry and industry in a.industries)]
    return min(usable, key=rank) if usable else None


def _covered_roles(ctx: AgentContext) -> list[CoveredRole]:
    conv = ctx.conversation
    found: dict[Role, CoveredRole] = {}

    def keep(candidate: CoveredRole) -> None:
        old = found.get(candidate.role)
        if old is None or _STATE_RANK[candidate.state] > _STATE_RANK[old.state]:
            found[candidate.role] = candidate

    speaker_roles: dict[str, Role] = {}
    for person in conv.participants:
        role = role_of_title(person.title) if person.side == "customer" else None
        if role:
            speaker_roles[person.id] = role
            keep(CoveredRole(role=role, state="involved", who=person.name or person.id))
    for index, message in enumerate(conv.messages):
        if conv.side_of(message) == "rep":
            continue  # what the rep claims about the customer is not evidence
        for clause in clauses(message.text):
            for role, state in _statements(clause, speaker_roles.get(message.sender)):
                who = _name_of(conv, message.sender) if speaker_roles.get(message.sender) == role else ""
                keep(
                    CoveredRole(
                        role=role, state=state, who=who, evidence=Evidence(message=index, quote=clause)
                    )
                )
    return sorted(found.values(), key=lambda c: (-_STATE_RANK[c.state], c.role))


def _statements(clause: str, speaker_role: Role | None) -> list[tuple[Role, State]]:
    """(role, state) pairs a clause asserts; a negated clause asserts nothing."""
    norm = normalize(clause)
    if _NEGATION.search(norm):
        return []
    state = next((name for name, cue in _CUES if cue.search(norm)), None)
    if state is None:
        return []
    roles = [role for role, _, _ in find_roles(clause)]
    if not roles and speaker_role:
        roles = [speaker_role]  # "我这边没问题" from the CFO covers the CFO
    return [(role, state) for role in dict.fromkeys(roles)]


def _name_of(conv: Conversation, participant_id: str) -> str:
    person = conv.participant(participant_id)
    return (person.name or person.id) if person else participant_id
