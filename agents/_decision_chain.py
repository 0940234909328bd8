"""Decision-chain agent: which buying roles are covered, which the stage still needs.

How a customer's message covers a role (the word tables are in ``_roles``):

* Messages split into sentences (。!?; ". "), sentences into segments at commas and at
  contrast words (但/不过/but …).
* A stretch of a sentence between contrast words states no fact when it asks (ends in
  ?, a clause ends in 吗/呢, or it says 是否/有没有/whether) or is a condition (如果/只要/
  if/unless/once …). A segment about another company (竞品/友商/competitor/their side,
  or a battlecard's competitor) states nothing about ours.
* A state cue (认可 approved, 看过 reviewed, 参与 involved) belongs to the role named
  before it in its segment; roles joined by 和/、/and share it. An object cue (拉了,
  looped in, approved by) belongs to the role named after it, else the one before.
* A negation or hedge (还没, not, hasn't, would …) cancels the next cue of the role it
  follows; before any role, or as "no one from"/"without", it cancels the role named
  next. A refusal (不同意, rejected) is a cancelled approval. 没问题/no objections approve.
* A segment naming no role speaks for the speaker when it says 我/we or the sentence has
  named no role yet; else, unless it begins with 但/but, for the roles the sentence's last
  segment naming roles asserted (财务总监看了方案，说没有问题 → the CFO approved).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from copilot import Conversation, CoveredRole, DecisionChainReport, Evidence, NextAction, Role
from knowledge import CLAUSE_END, Atom, fold_map, plain_text
from prompts import PromptTemplate, load_prompt

from ._base import AgentContext
from ._competitor import CompetitorMatcher
from ._roles import (
    State,
    Synonyms,
    joined,
    mentions,
    role_of_title,
    self_introduction,
    synonyms_of,
    took_part,
    words,
)

__all__ = ["DecisionChainAgent", "covered_roles", "role_synonyms", "stated_roles"]

_QUESTION_ENDS = ("吗", "呢")
_PUNCT = CLAUSE_END  # after folding, ，→, ？→? ！→! ；→;
_QUOTE_STRIP = " \t\r\n，。！？；,!?;."
_STATE_RANK: dict[str, int] = {"involved": 0, "reviewed": 1, "approved": 2}


class _Token(NamedTuple):
    start: int
    end: int
    kind: str  # a ``_roles.words`` kind, "role", or punctuation: "comma", "stop", "ask"
    state: State | None = None
    role: Role | None = None


@dataclass
class _Segment:
    start: int
    end: int = 0
    tokens: list[_Token] = field(default_factory=list)
    contrast: bool = False  # begins with 但/but: a new stretch, no subject carried over
    asks: bool = False  # ends the sentence with ? or a clause with 吗/呢
    skip: bool = False  # a question, a condition, or another company

    def has(self, *kinds: str) -> bool:
        return any(token.kind in kinds for token in self.tokens)


class DecisionChainAgent:
    """Maps titles and explicit statements to roles and compares with the playbook."""

    name = "decision_chain"

    def __init__(self, prompt: PromptTemplate | None = None) -> None:
        self.prompt = prompt or load_prompt("decision_chain")

    async def run(self, ctx: AgentContext) -> DecisionChainReport:
        deal = ctx.conversation.deal
        playbook = _playbook_for(ctx.retrieval.playbooks, deal.industry, ctx.language)
        required = list(playbook.required_roles.get(deal.stage, [])) if playbook else []
        covered = covered_roles(ctx)
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


def stated_roles(text: str, extra: Synonyms = ()) -> list[tuple[Role, State]]:
    """(role, state) that ``text`` states on its own ("感谢技术团队认可方案" → cto approved)."""
    no_competitors = CompetitorMatcher.for_cards([])
    return [(role, state) for role, state, _ in _statements(text, None, no_competitors, extra)]


def role_synonyms(ctx: AgentContext) -> Synonyms:
    """The synonyms content owners added in the served playbooks' ``role_synonyms``."""
    return synonyms_of(atom.role_synonyms for atom in ctx.retrieval.playbooks)


def covered_roles(ctx: AgentContext) -> list[CoveredRole]:
    """Roles the conversation shows covered: by a customer participant's title, or by what
    the customer side says; the strongest state per role, with its evidence."""
    conv = ctx.conversation
    competitors = CompetitorMatcher.for_cards(ctx.retrieval.battlecards)
    extra = role_synonyms(ctx)
    found: dict[Role, CoveredRole] = {}

    def keep(candidate: CoveredRole) -> None:
        old = found.get(candidate.role)
        if old is None or _STATE_RANK[candidate.state] > _STATE_RANK[old.state]:
            found[candidate.role] = candidate

    speaker_roles: dict[str, Role] = {}
    for person in conv.participants:
        role = role_of_title(person.title, extra) if person.side == "customer" else None
        if role:
            speaker_roles[person.id] = role
            keep(CoveredRole(role=role, state="involved", who=person.name or person.id))
    for index, message in enumerate(conv.messages):
        if conv.side_of(message) != "customer" or message.sender in speaker_roles:
            continue
        folded, origin = _fold(message.text)
        intro = self_introduction(folded, extra)
        if intro:  # "我是采购部的王经理": a title given in the chat
            role, start, end = intro
            speaker_roles[message.sender] = role
            quote = plain_text(message.text[origin[start] : origin[end]].strip(_QUOTE_STRIP))
            evidence = Evidence(message=index, quote=quote)
            keep(
                CoveredRole(
                    role=role, state="involved", who=_name_of(conv, message.sender), evidence=evidence
                )
            )
    for index, message in enumerate(conv.messages):
        if conv.side_of(message) == "rep":
            continue  # what the rep claims about the customer is not evidence
        speaker = speaker_roles.get(message.sender)
        for role, state, quote in _statements(message.text, speaker, competitors, extra):
            who = _name_of(conv, message.sender) if speaker == role else ""
            evidence = Evidence(message=index, quote=plain_text(quote))
            keep(CoveredRole(role=role, state=state, who=who, evidence=evidence))
    return sorted(found.values(), key=lambda c: (-_STATE_RANK[c.state], c.role))


def _statements(
    text: str, speaker: Role | None, competitors: CompetitorMatcher, extra: Synonyms = ()
) -> list[tuple[Role, State, str]]:
    """(role, state, quote) for each fact the message states; see the module docstring."""
    folded, origin = _fold(text)
    found: list[tuple[Role, State, str]] = []
    upper = [text[i].isupper() for i in origin[: len(folded)]]
    for sentence in _sentences(folded, _tokens(folded, extra, upper)):
        _mark_skips(sentence, lambda s: competitors.find(text[origin[s.start] : origin[s.end]]) is not None)
        named = False  # the sentence has named a role
        carried: list[Role] = []  # what the last segment naming roles asserted them to be
        carried_from = 0
        for segment in sentence:
            explicit = segment.has("role")
            subject: list[Role] = []
            start = segment.start
            if explicit or segment.skip:
                pass
            elif segment.has("self") or not named:
                subject = [speaker] if speaker else []
            elif not segment.contrast:
                subject, start = carried, carried_from
            asserted = [] if segment.skip else _assertions(segment, folded, subject)
            quote = text[origin[start] : origin[segment.end]].strip(_QUOTE_STRIP)
            found += [(role, state, quote) for role, state in asserted]
            if explicit:
                named, carried_from = True, segment.start
                if asserted:
                    carried = list(dict.fromkeys(role for role, _ in asserted))
                elif _names_only(segment, folded):  # "my boss, the COO, saw the demo"
                    carried = [t.role for t in segment.tokens if t.kind == "role" and t.role] or carried
                else:
                    carried = []
    return found


_STATING = ("cue", "object", "negation", "nobody", "refusal", "future", "after", "question", "condition")


def _names_only(segment: _Segment, folded: str) -> bool:
    """Whether ``segment`` only names its roles, as the subject of what follows: "my boss,
    the COO, saw the demo", "我们领导，就是分管财务的副总，已经批了"."""
    if segment.skip or segment.has(*_STATING) or took_part(folded[segment.start : segment.end]):
        return False
    first = next(t for t in segment.tokens if t.kind == "role")
    return _is_subject(folded[segment.start : first.start])


def _fold(text: str) -> tuple[str, list[int]]:
    """``text`` folded as the tables are, and where each folded character came from."""
    folded, index = fold_map(text)
    return folded, [*(index or range(len(text))), len(text)]


def _tokens(folded: str, extra: Synonyms = (), upper: list[bool] | None = None) -> list[_Token]:
    """Role mentions, cue-table words and punctuation, by position; ``upper``: which folded
    characters were capitals (a bare "IT")."""
    roles = mentions(folded, extra, upper)
    masked = list(folded)
    for hit in roles:
        masked[hit.start : hit.end] = "\0" * (hit.end - hit.start)
    tokens = [_Token(hit.start, hit.end, "role", role=hit.role) for hit in roles]
    for start, end, kind, state in words("".join(masked)):
        if kind == "foreign" and any(hit.end == start for hit in roles):
            continue  # 财务他们那边: that role's own people, not another company
        tokens.append(_Token(start, end, kind, state))
    for match in _PUNCT.finditer(folded):
        mark = match.group()
        kind = "comma" if mark == "," else "ask" if mark == "?" else "stop"
        tokens.append(_Token(match.start(), match.end(), kind))
    return sorted(tokens, key=lambda token: token.start)


def _sentences(folded: str, tokens: list[_Token]) -> list[list[_Segment]]:
    """Non-empty segments, grouped by sentence."""
    sentences: list[list[_Segment]] = [[]]
    segment = _Segment(0)
    for token in [*tokens, _Token(len(folded), len(folded), "stop")]:
        if token.kind not in ("comma", "stop", "ask", "contrast"):
            segment.tokens.append(token)
            continue
        segment.end = token.start
        clause = folded[segment.start : segment.end].strip()
        if clause:
            segment.asks = token.kind == "ask" or clause.endswith(_QUESTION_ENDS)
            sentences[-1].append(segment)
        contrast = token.kind == "contrast" or (segment.contrast and not clause)
        segment = _Segment(token.end, contrast=contrast)
        if token.kind in ("stop", "ask") and sentences[-1]:
            sentences.append([])
    return [sentence for sentence in sentences if sentence]


def _mark_skips(sentence: list[_Segment], names_competitor: Callable[[_Segment], bool]) -> None:
    """Skip questions and conditions (to the next contrast word) and other companies' segments."""
    stretches: list[list[_Segment]] = []
    for segment in sentence:
        if segment.contrast or not stretches:
            stretches.append([])
        stretches[-1].append(segment)
    for stretch in stretches:
        hedged = any(s.asks or s.has("question", "condition") for s in stretch)
        for segment in stretch:
            segment.skip = hedged or segment.has("foreign") or names_competitor(segment)


def _assertions(segment: _Segment, folded: str, subject: list[Role]) -> list[tuple[Role, State]]:
    """(role, state) pairs one segment asserts; ``subject`` speaks when it names no role."""
    groups: list[list[Role | None]] = [list(subject)] if subject else []
    states: list[list[State]] = [[] for _ in groups]
    killed: set[int] = set()
    negated = kill_next = False
    waiting: list[State] = []  # object cues, for the role named next
    last_role_end = -1
    subjects: set[int] = set()  # groups named as the subject of their clause
    for token in segment.tokens:
        if token.kind == "role":
            if groups and last_role_end >= 0 and joined(folded[last_role_end : token.start]):
                groups[-1].append(token.role)
            else:
                if negated or kill_next:
                    killed.add(len(groups))
                if _is_subject(folded[segment.start : token.start]):
                    subjects.add(len(groups))
                groups.append([token.role])
                states.append(waiting)
                negated = kill_next = False
                waiting = []
            last_role_end = token.end
        elif token.kind in ("cue", "object") and token.state:
            if negated and token.kind == "object":
                kill_next = True
            elif not negated and token.kind == "object":
                waiting.append(token.state)
            elif not negated and groups:
                states[-1].append(token.state)
            negated = False
        elif token.kind == "after" and groups and states[-1]:
            states[-1].pop()
        elif token.kind in ("negation", "nobody", "refusal", "and", "future"):
            negated = token.kind in ("negation", "future")  # a plan states nothing yet
            kill_next = kill_next or token.kind == "nobody"
    if groups:
        states[-1] += waiting  # "the CFO was looped in"
    if not segment.has("negation", "nobody", "refusal", "future", "after") and took_part(
        folded[segment.start : segment.end]
    ):
        for index in subjects:
            states[index] = states[index] or ["involved"]  # a role named as doing something took part
    return [
        (role, state)
        for index, (group, found) in enumerate(zip(groups, states, strict=True))
        if index not in killed
        for role in group
        if role
        for state in found
    ]


_POSSESSIVE = re.compile(r"(?:我们|咱们|我|our|my|the|their)\s*的?\s*$")
_NOT_SUBJECT = re.compile(r"我|咱|给|向|跟|让|把|被|对|(?<![a-z])(?:i|we|you|to|with|for|by)(?![a-z])")


def _is_subject(before: str) -> bool:
    """Whether a role named after ``before`` (the clause so far) is its subject: nobody else
    acts first ("我把报价转给财务了" is about me); "我们法务", "our CEO" are possessive."""
    return _NOT_SUBJECT.search(_POSSESSIVE.sub("", before)) is None


def _name_of(conv: Conversation, participant_id: str) -> str:
    person = conv.participant(participant_id)
    return (person.name or person.id) if person else participant_id
