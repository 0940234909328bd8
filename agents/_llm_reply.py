"""Reply agent (LLM): three replies written by a chat model, held to the atoms.

One model call per press. The prompt (``prompts/templates/reply_llm.yaml``) gets the
redacted conversation, the deal, the retrieved customer-audience atoms with their
ids, the internal guidance, the competitor's battlecard and the missing roles; all
of it is untrusted data, JSON-encoded inside delimiters. Each draft is checked by
:class:`Grounding`; a draft that fails is replaced by the next grounded candidate
(the reason recorded); when none passes, the whole answer is ``Ungrounded`` and the
grounded engine's replies are shown instead.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from copilot import ChatModel, Provenance, Suggestion
from copilot.errors import ConfigError
from knowledge import Atom
from prompts import ChatTemplate, load_chat_prompt

from ._base import AgentContext, AgentResult
from ._grounding import Grounding
from ._provenance import Ungrounded

__all__ = ["LLMReplyAgent", "ReplyDraft", "ReplyDrafts"]

MAX_ATOMS = 8
MAX_ATOM_CHARS = 800
MAX_MESSAGES = 20
MAX_MESSAGE_CHARS = 1000


class ReplyDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=2000)
    citations: list[str] = Field(max_length=10)


class ReplyDrafts(BaseModel):
    """What the model must return (the reply template's ``output_schema``)."""

    model_config = ConfigDict(extra="forbid")

    suggestions: list[ReplyDraft] = Field(min_length=1, max_length=3)


class LLMReplyAgent:
    """Drafts replies with ``model``; the grounded candidates fill every gap."""

    name = "reply"

    def __init__(self, model: ChatModel, template: ChatTemplate | None = None) -> None:
        self.chat = model
        self.model = model.name
        self.template = template or load_chat_prompt("reply_llm")
        if self.template.output_schema != ReplyDrafts.__name__:
            raise ConfigError(
                f"prompt {self.template.ref} declares output_schema {self.template.output_schema!r}; "
                f"the reply agent reads {ReplyDrafts.__name__!r}"
            )
        self.prompt = self.template.ref

    async def run(
        self, ctx: AgentContext, grounded: Awaitable[list[Suggestion]]
    ) -> AgentResult[list[Suggestion]]:
        atoms = _customer_atoms(ctx)
        card = _battlecard(ctx)
        grounding = Grounding(ctx, atoms + ([card] if card else []))
        messages = self.template.render(**_variables(ctx, atoms, card))
        drafts = await self.chat.complete(messages, ReplyDrafts)
        spare = iter(await grounded)
        shown: list[Suggestion] = []
        replaced: list[str] = []
        dropped = 0
        for index, draft in enumerate(drafts.suggestions):
            verdict = grounding.check(draft.text, draft.citations)
            dropped += verdict.dropped
            if verdict.problem is None:
                basis = grounding.legal_basis(verdict.citations)
                shown.append(
                    Suggestion(text=draft.text.strip(), citations=verdict.citations, legal_basis=basis)
                )
                continue
            replaced.append(f"suggestion[{index}]: {verdict.problem}")
            fill = next((s for s in spare if s not in shown), None)
            if fill is not None:
                shown.append(fill)
        if len(replaced) == len(drafts.suggestions):
            raise Ungrounded(f"ungrounded: {replaced[0].split(': ', 1)[1]}")
        shown += [s for s in spare if s not in shown]  # spares let the guard drop one
        provenance = Provenance(
            engine="llm", model=self.model, prompt=self.prompt, dropped_citations=dropped, replaced=replaced
        )
        return AgentResult(shown, provenance)


def _customer_atoms(ctx: AgentContext) -> list[Atom]:
    """The retrieved atoms a reply may quote, best first, the chat's language first."""
    atoms = [s.atom for s in ctx.retrieval.candidates]
    atoms = [a for a in atoms if a.for_customer and a.is_served(ctx.today)]
    same = [a for a in atoms if a.language == ctx.language]
    return (same + [a for a in atoms if a.language != ctx.language])[:MAX_ATOMS]


def _battlecard(ctx: AgentContext) -> Atom | None:
    if ctx.competitor is None:
        return None
    cards = {a.id: a for a in ctx.retrieval.battlecards}
    return next((cards[c] for c in ctx.competitor.citations if c in cards), None)


def _data(value: Any) -> str:
    """Untrusted text as one JSON line that cannot close a prompt delimiter."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


def _variables(ctx: AgentContext, atoms: list[Atom], card: Atom | None) -> dict[str, str]:
    values = ctx.fill_values()
    conv = ctx.conversation

    def atom_line(atom: Atom) -> str:
        body = atom.fill(**values)[:MAX_ATOM_CHARS]
        return _data({"id": atom.id, "type": atom.type, "title": atom.title, "text": body})

    guidance = [g.text for g in ctx.guidance]
    competitor = "none"
    if ctx.competitor is not None and card is not None:
        competitor = _data(
            {
                "name": ctx.competitor.name,
                "customer_said": ctx.competitor.claim,
                "approved_answer": {"id": card.id, "text": card.fill(**values)[:MAX_ATOM_CHARS]},
            }
        )
    missing = ctx.decision_chain.missing_roles if ctx.decision_chain else []
    turns = [
        _data({"n": i, "side": conv.side_of(m), "text": m.text[:MAX_MESSAGE_CHARS]})
        for i, m in enumerate(conv.messages)
    ][-MAX_MESSAGES:]
    deal = conv.deal
    return {
        "language": "Simplified Chinese" if ctx.language == "zh" else "English",
        "deal": _data(
            {
                "customer": deal.customer,
                "industry": deal.industry,
                "stage": deal.stage,
                "product": values["product"],
            }
        ),
        "atoms": "\n".join(atom_line(a) for a in atoms) or "none",
        "guidance": "\n".join(_data(g) for g in guidance) or "none",
        "competitor": competitor,
        "missing_roles": ", ".join(missing) or "none",
        "conversation": "\n".join(turns),
    }
