"""Reply agent (grounded): three chat replies that answer the customer's last turn.

1. Work out what the last customer turn asks or objects to (``_intent.classify``).
2. Rank the retrieved customer-audience atoms by how well their title and scenario fit
   that intent, then by similarity; the chat's language first.
3. Quote each atom by its most relevant sentences (never a whole long body), as plain
   text; drop sentences that volunteer a discount or state a buying role's engagement the
   conversation does not show.
4. Compose three approaches: answer with a fact, ask a clarifying question, propose the
   next step (``prompts/templates/reply.yaml``), each within the chat length limit.

Internal atoms (policy, playbook, or ``audience: internal``) never become reply text: a
fitting one lends its legal basis and citation to the replies and reaches the rep as
``Guidance`` (:class:`GuidanceAgent`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from copilot import Guidance, Suggestion
from knowledge import Atom, chat_length, clause_spans, fold, plain_text, sentences
from prompts import PromptTemplate, load_prompt

from ._base import AgentContext
from ._competitor import CompetitorMatcher
from ._decision_chain import covered_roles, role_synonyms, stated_roles
from ._discounts import offers
from ._intent import Intent, classify, intent_counts
from ._roles import words

__all__ = ["GuidanceAgent", "ReplyAgent", "TurnReading", "read_turn"]

_PROMO = re.compile(
    r"优惠|折扣|打折|[0-9一二三四五六七八九]折|让利|免费|赠送|礼遇|特价|返点|discount|% off|percent off"
    r"|free of charge|for free|at no (?:extra )?cost|complimentary|special offer|promotion"
)
_GRAM = re.compile(r"[a-z0-9]{3,}|[\u3400-\u9fff]{2,}")
_STOP = frozenset(
    [
        "the",
        "and",
        "you",
        "your",
        "our",
        "for",
        "with",
        "that",
        "this",
        "are",
        "can",
        "will",
        "have",
        "has",
        "was",
        "not",
        "but",
    ]
)


@dataclass(frozen=True)
class TurnReading:
    """The customer's last turn and what it asks for, strongest intent first."""

    index: int
    text: str
    intents: list[Intent]

    @property
    def primary(self) -> str:
        return self.intents[0] if self.intents else "other"


def read_turn(ctx: AgentContext) -> TurnReading:
    """The last customer message (an empty one is skipped) and its intents; when it carries
    none ("好的，那您说呢？"), the two before it lend theirs."""
    said = [(i, t) for i, t in ctx.customer_messages() if t.strip()]
    if not said:
        return TurnReading(-1, "", [])
    matcher = CompetitorMatcher.for_cards(ctx.retrieval.battlecards)
    index, text = said[-1]
    intents = classify(text, competitor_named=matcher.find(text) is not None)
    if not intents:
        earlier = " ".join(t for _, t in said[-3:-1])
        intents = classify(earlier, competitor_named=matcher.find(earlier) is not None)
    return TurnReading(index, text, intents)


def _fit(atom: Atom, turn: TurnReading) -> float:
    """How well the atom's title and scenario fit the turn: the share of its intent words
    that are about the turn's main intent (plus a third of the share about its other
    intents); -0.3 when none is; 0 when either says nothing classifiable."""
    mine = intent_counts(f"{atom.title} {atom.scenario}", competitor_named=bool(atom.competitors))
    if not mine or not turn.intents:
        return 0.0
    total = sum(mine.values())
    main = mine.get(turn.intents[0], 0) / total
    other = sum(mine.get(i, 0) for i in turn.intents[1:]) / total
    return main + other / 3 if main or other else -0.3


def _rank(ctx: AgentContext, turn: TurnReading, *, customer: bool) -> tuple[list[Atom], list[Atom]]:
    """(fitting, neutral) served atoms of that audience, best first; the chat's language
    first. Neutral atoms are about nothing classifiable (a generic clarifying script)."""
    pool = [
        c
        for c in ctx.retrieval.candidates
        if c.atom.is_served(ctx.today) and c.atom.for_customer == customer and c.atom.type != "competitor"
    ]
    same = [c for c in pool if c.atom.language == ctx.language]
    ranked = sorted(same or pool, key=lambda c: -(_fit(c.atom, turn) + c.similarity))
    fitting = [c.atom for c in ranked if _fit(c.atom, turn) > 0]
    neutral = [c.atom for c in ranked if _fit(c.atom, turn) == 0]
    return (fitting, neutral) if turn.intents else (neutral, [])


def _grams(text: str) -> set[str]:
    grams: set[str] = set()
    for token in _GRAM.findall(fold(text)):
        if token.isascii():
            grams.add(token) if token not in _STOP else None
        else:
            grams.update(token[i : i + 2] for i in range(len(token) - 1))
    return grams


class ReplyAgent:
    """Returns more candidates than are shown (``candidates``), approaches interleaved, so the
    compliance guard can drop one and three different approaches still remain."""

    name = "reply"

    def __init__(self, candidates: int = 6, prompt: PromptTemplate | None = None) -> None:
        self.candidates = candidates
        self.prompt = prompt or load_prompt("reply")

    async def run(self, ctx: AgentContext) -> list[Suggestion]:
        turn = read_turn(ctx)
        lang = "zh" if ctx.language == "zh" else "en"
        limits = self.prompt.data["max_length"], self.prompt.data["fact_length"]
        composer = _Composer(ctx, turn, lang, int(limits[0][lang]), int(limits[1][lang]))
        fitting, neutral = _rank(ctx, turn, customer=True)
        atoms = fitting[:4]
        asking = next((a for a in neutral if any(_asks(s) for s in sentences(a.body))), None)
        policy = next(iter(_rank(ctx, turn, customer=False)[0]), None)
        values = ctx.fill_values()
        ask, step, answer = (
            self.prompt.text(f"{key}_{turn.primary}", lang, **values) for key in ("ask", "next", "answer")
        )
        spare: list[Atom | None] = [*atoms[1:]] or [None]
        # (atom, approach, closing): a fact, a clarifying question, a next step; then alternates
        # the guard can fall back on.
        plans: list[tuple[Atom | None, str, str]] = [
            (atoms[0] if atoms else None, "fact", "" if atoms else answer),
            (spare[0] or asking, "ask", ask),
            (spare[1] if len(spare) > 1 else None, "next", step),
            *[(atom, "fact", "") for atom in atoms[1:]],
            (asking, "ask", ask),
            (None, "fact", answer),
            (None, "ask", ask),
            (None, "next", step),
        ]
        if not atoms and asking and not policy:  # nothing fits: a grounded clarifying question first
            plans[:2] = [plans[1], plans[0]]
        out: list[Suggestion] = []
        seen: set[str] = set()
        for atom, approach, closing in plans:
            text = composer.compose(atom, approach, closing)
            if not text or fold(text) in seen:
                continue
            seen.add(fold(text))
            cited = [atom] if atom else []
            cited += [policy] if policy else []
            basis = list(dict.fromkeys(b for a in cited for b in a.legal_basis))
            out.append(Suggestion(text=text, citations=[a.id for a in cited], legal_basis=basis))
            if len(out) == self.candidates:
                break
        return out


class _Composer:
    """Builds one chat message from an atom's best sentences and a closing line."""

    def __init__(self, ctx: AgentContext, turn: TurnReading, lang: str, limit: int, fact_limit: int) -> None:
        self.ctx, self.turn, self.lang = ctx, turn, lang
        self.limit, self.fact_limit = limit, fact_limit
        self.turn_grams = _grams(turn.text)
        self._covered: set[tuple[str, str]] | None = None

    def compose(self, atom: Atom | None, approach: str, closing: str) -> str:
        """``atom``'s best sentences (a fact reply: up to ``fact_limit``; else half of it)
        followed by ``closing``; "" when nothing fits the limits."""
        budget = self.fact_limit if approach == "fact" else self.fact_limit // 2
        facts = self.quote(atom, budget, asking=approach == "ask") if atom else []
        if atom and not facts:
            return ""
        if approach == "ask" and any(_asks(fact) for fact in facts):
            closing = ""  # the atom already asks
        joiner = "" if self.lang == "zh" else " "
        while len(facts) > 1 and chat_length(joiner.join([*facts, closing]), self.lang) > self.limit:
            facts.pop()
        text = joiner.join(p for p in [*facts, closing] if p)
        return text if text and chat_length(text, self.lang) <= self.limit else ""

    def quote(self, atom: Atom, budget: int, *, asking: bool = False) -> list[str]:
        """The atom's most relevant sentences that fit ``budget``, in their original order."""
        body = plain_text(atom.fill(**self.ctx.fill_values()))
        usable = [s for s in sentences(body) if self._may_say(s)]
        if not usable:
            return []
        if chat_length(" ".join(usable), self.lang) <= budget:
            return usable

        def score(i: int) -> float:
            bonus = (0.5 if i == 0 else 0.0) + (3.0 if asking and _asks(usable[i]) else 0.0)
            return len(_grams(usable[i]) & self.turn_grams) + bonus

        scored = sorted(range(len(usable)), key=lambda i: -score(i))
        chosen: list[int] = []
        used = 0
        for i in scored:
            size = chat_length(usable[i], self.lang)
            if used + size <= budget:
                chosen.append(i)
                used += size
        return [usable[i] for i in sorted(chosen)] or [_cut(usable[scored[0]], budget, self.lang)]

    def _may_say(self, sentence: str) -> bool:
        """No volunteered discount or promotion; no buying-role state the chat does not show."""
        asked = "discount" in self.turn.intents
        if not asked and (_PROMO.search(fold(sentence)) or any(offers(fold(sentence)))):
            return False
        if not any(kind in ("cue", "object") for _, _, kind, _ in words(fold(sentence))):
            return True  # no state word: nothing claimed about a buying role
        claims = stated_roles(sentence, role_synonyms(self.ctx))
        if claims:
            if self._covered is None:
                self._covered = {(c.role, c.state) for c in covered_roles(self.ctx)}
            rank = {"involved": 0, "reviewed": 1, "approved": 2}
            for role, state in claims:
                if not any(r == role and rank[s] >= rank[state] for r, s in self._covered):
                    return False
        return True


def _asks(sentence: str) -> bool:
    return sentence.rstrip().endswith(("？", "?"))


def _cut(sentence: str, budget: int, lang: str) -> str:
    """The leading clauses of a too-long sentence that fit ``budget``, closed as a sentence."""
    kept = ""
    for _, end in clause_spans(sentence):
        candidate = sentence[:end]
        if chat_length(candidate, lang) > budget:
            break
        kept = candidate
    return (kept + ("。" if lang == "zh" else ".")) if kept else ""


class GuidanceAgent:
    """Internal atoms that fit the turn, for the rep's eyes: "<what the customer wants>:
    <the rule> — <legal basis>"."""

    name = "guidance"

    def __init__(self, prompt: PromptTemplate | None = None, limit: int = 2) -> None:
        self.prompt = prompt or load_prompt("reply")
        self.limit = limit
        self.length: dict[str, int] = self.prompt.data["max_length"]

    async def run(self, ctx: AgentContext) -> list[Guidance]:
        turn = read_turn(ctx)
        if not turn.intents:
            return []
        lang = "zh" if ctx.language == "zh" else "en"
        label = self.prompt.text(f"label_{turn.primary}", lang)
        out: list[Guidance] = []
        for atom in _rank(ctx, turn, customer=False)[0][: self.limit]:
            lead: list[str] = []
            for sentence in sentences(plain_text(atom.fill(**ctx.fill_values()))):
                if chat_length(" ".join([*lead, sentence]), lang) > self.length[lang]:
                    break
                lead.append(sentence)
            text = f"{label}：{atom.title}" if lang == "zh" else f"{label}: {atom.title}"
            if lead:
                joined = ("" if lang == "zh" else " ").join(lead).rstrip("；;")
                text += ("。" if lang == "zh" else ". ") + joined
            if atom.legal_basis:
                text += " — " + "、".join(atom.legal_basis)
            out.append(Guidance(text=text, citations=[atom.id], legal_basis=list(atom.legal_basis)))
        return out
