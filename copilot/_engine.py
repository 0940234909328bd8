"""The Copilot engine: one Suggest press, from conversation to logged suggestion set."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

from agents import Agent, AgentContext, AgentResult, ComplianceGuard
from audit import AuditEvent, RepAction, append_action, append_feedback, canonical_json
from knowledge import Retrieval, Retriever, detect_language

from ._chat import ChatModel
from ._lanes import PressLanes, Ticket
from ._models import (
    CompetitorResponse,
    ComplianceVerdict,
    Conversation,
    CoveredRole,
    DecisionChainReport,
    Fallback,
    Guidance,
    Provenance,
    Suggestion,
    SuggestionSet,
)
from ._pseudonym import actor_pseudonym, pseudonym_key
from ._redact import Redactor, find_pii
from ._settings import Settings
from .errors import AuditIntegrityError, StoreError

if TYPE_CHECKING:
    from audit import AuditStore
    from knowledge import AtomStore

__all__ = ["Copilot", "conversation_redactor", "map_strings", "redact_conversation"]

log = logging.getLogger("copilot.engine")
T = TypeVar("T")
SHOWN = 3
QUERY_MESSAGES = 3


def redact_conversation(conversation: Conversation, redactor: Redactor | None = None) -> Conversation:
    """A copy in which every free-text field (ids, names, titles, deal, messages)
    carries placeholders instead of PII, and people's names keyed pseudonyms; one
    redactor keeps tokens consistent (default: :func:`conversation_redactor`)."""
    redactor = redactor or conversation_redactor(conversation)
    data = map_strings(conversation.model_dump(mode="json", by_alias=True), redactor.redact)
    return Conversation.model_validate(data)


def conversation_redactor(conversation: Conversation, key: bytes | None = None) -> Redactor:
    """A redactor that also turns the participants' names into pseudonyms keyed by
    ``key`` and the conversation id (without a key: stable for this redactor only)."""
    names = [p.name for p in conversation.participants]
    return Redactor(names=names, key=key, scope=conversation.id)


def map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """``value`` (JSON data) with ``change`` applied to every string in it."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {key: map_strings(item, change) for key, item in value.items()}
    if isinstance(value, list):
        return [map_strings(item, change) for item in value]
    return value


class Copilot:
    """Runs the agents for one Suggest press and appends the result to the audit log.

    Built from settings by :meth:`open`; tests and benchmarks may pass their own
    store and audit log, and evals their own ``chat_model`` (else the one the
    settings configure, if any). ``today`` decides which atoms have expired.
    """

    def __init__(
        self,
        settings: Settings,
        store: AtomStore,
        audit: AuditStore,
        *,
        today: Callable[[], date] = date.today,
        chat_model: ChatModel | None = None,
    ) -> None:
        from ._factories import make_agents

        self.settings = settings
        self.store = store
        self.audit = audit
        if not settings.audit_required:
            log.warning(
                "COPILOT_AUDIT_REQUIRED=false: suggestions will be shown even when the audit log"
                " cannot record them (trial mode; never in production)"
            )
        self.today = today
        self.retriever = Retriever(store, k=settings.retrieve_k)
        self.agents = make_agents(settings, chat_model)
        prepare = getattr(self.agents.chat_model, "warm_up_in_background", None)
        if callable(prepare):
            prepare()  # importing the client takes seconds: overlap it with loading the store
        self._guards: dict[tuple[str, ...], ComplianceGuard] = {}
        self._pseudonym_key = pseudonym_key(settings)
        # One lane per core: at 10k atoms, 2 lanes on 2 cores gave 21.8 presses/s against
        # 15.0 with 1, and p95 743 ms against 1308 at 20 presses/s (benchmarks/load.py).
        lanes = settings.press_lanes or os.cpu_count() or 1
        self.lanes = PressLanes(lanes=lanes, max_waiting=settings.max_waiting_presses)

    @classmethod
    def open(cls, settings: Settings | None = None, *, read_only: bool = True) -> Copilot:
        """The engine on the stores named by ``settings``; the atom store opens
        ``read_only`` (a press never writes atoms) unless the caller ingests too."""
        from ._factories import make_atom_store, make_audit_store

        settings = settings or Settings()
        return cls(settings, make_atom_store(settings, read_only=read_only), make_audit_store(settings))

    def warm_up(self, *, model: bool = True) -> None:
        """Load the embedding model, the vector index and the catalogue before the
        first press, as a server does at start, so no rep waits for them; and the
        model client unless ``model`` is false (a one-press CLI run: its import then
        goes on in the background and counts against the model's timeout)."""
        self.retriever.retrieve(
            ["warm up", "预热"], language="zh", industry="", stage="discovery", today=self.today()
        )
        warm = getattr(self.agents.chat_model, "warm_up", None)
        if model and callable(warm):
            warm()

    def close(self) -> None:
        self.lanes.close()
        self.audit.close()
        self.store.close()

    async def aclose(self) -> None:
        """Close the chat model's connections of the running event loop (if any)."""
        close = getattr(self.agents.chat_model, "aclose", None)
        if callable(close):
            await close()

    async def suggest(self, conversation: Conversation, *, actor: str | None = None) -> SuggestionSet:
        """Three compliant suggestions, competitor answer, decision-chain gaps; logged first.

        Concurrent presses take their CPU turns (retrieval, guard) in arrival order on
        the engine's lanes; when too many wait, this raises :class:`~copilot.errors.Busy`
        at once (the connector asks the rep to retry) instead of queueing without bound.
        """
        with self.lanes.ticket() as ticket:
            return await self._suggest(conversation, actor, ticket)

    async def _suggest(self, conversation: Conversation, actor: str | None, ticket: Ticket) -> SuggestionSet:
        started = time.perf_counter()
        timings: dict[str, float] = {}
        # Every CPU phase of the press takes its turn on the lanes, in arrival order,
        # redaction included: the event loop stays free for platform requests.
        prepared = await self.lanes.run(ticket, self._prepare, conversation)
        redactor, redacted = prepared.redactor, prepared.redacted
        language, retrieval = prepared.language, prepared.retrieval
        timings["redact"] = (prepared.redacted_at - started) * 1000
        mark = _lap(timings, "retrieve", prepared.redacted_at)
        ctx = AgentContext(
            conversation=redacted,
            language=language,
            retrieval=retrieval,
            today=prepared.today,
            cpu=functools.partial(self.lanes.run, ticket),
        )
        agents = self.agents
        competitor, chain, guidance = await asyncio.gather(
            _isolated(agents.competitor, ctx, None),
            _isolated(agents.decision_chain, ctx, _no_chain()),
            _isolated(agents.guidance, ctx, []),
        )
        ctx = replace(ctx, competitor=competitor.value, decision_chain=chain.value, guidance=guidance.value)
        # The reply agent (maybe a model call) runs while the other outputs are guarded.
        reply_task = asyncio.create_task(_isolated(agents.reply, ctx, []))
        guarded_competitor, guarded_chain, other_verdicts = await self.lanes.run(
            ticket, self._guard_others, competitor.value, chain.value, ctx
        )
        mark = _lap(timings, "agents", mark)
        reply = await reply_task
        mark = _lap(timings, "reply", mark)
        suggestions, reply_verdicts = await self.lanes.run(ticket, self._guard_replies, reply.value, ctx)
        mark = _lap(timings, "guard", mark)
        provenance = {agents.reply.name: reply.provenance, agents.competitor.name: competitor.provenance}
        provenance[agents.decision_chain.name] = chain.provenance
        provenance[agents.guidance.name] = guidance.provenance
        used_model = reply.provenance.engine == "llm"
        reason = reply.provenance.fallback if reply.provenance.model else None
        result = SuggestionSet(
            id=_new_set_id(),
            conversation_id=redacted.id,
            engine="llm" if used_model else "grounded",
            fallback=Fallback(reason=reason) if reason else None,
            model=reply.provenance.model if used_model else "",
            language="zh" if language == "zh" else "en",
            suggestions=suggestions,
            competitor=guarded_competitor,
            decision_chain=guarded_chain,
            guidance=guidance.value,
            compliance=reply_verdicts + other_verdicts,
            prompt_versions={name: p.prompt for name, p in provenance.items() if p.prompt},
            provenance=provenance,
            atom_versions=_cited_versions(
                retrieval.atom_versions(), suggestions, guarded_competitor, guarded_chain, guidance.value
            ),
            timings_ms={},
        )
        try:
            await asyncio.to_thread(self._log_shown, conversation, redacted, result, actor, started)
        except StoreError as exc:  # nothing is shown unlogged, unless the operator opted out
            if self.settings.audit_required or isinstance(exc, AuditIntegrityError):
                raise
            log.error("suggestion set %s shown UNLOGGED (COPILOT_AUDIT_REQUIRED=false): %s", result.id, exc)
        _lap(timings, "audit", mark)
        timings["total"] = (time.perf_counter() - started) * 1000
        timings.update({f"retrieve.{k}": v for k, v in retrieval.timings_ms.items()})
        # Stored with pseudonyms, shown to the rep with the names.
        shown = SuggestionSet.model_validate(map_strings(result.model_dump(mode="json"), redactor.restore))
        return shown.model_copy(update={"timings_ms": {k: round(v, 2) for k, v in timings.items()}})

    def _prepare(self, conversation: Conversation) -> _Prepared:
        """Redact the conversation, then the one retrieval that feeds every agent."""
        redactor = conversation_redactor(conversation, self._pseudonym_key)
        redacted = redact_conversation(conversation, redactor)
        customer_text = [m.text for m in redacted.messages if redacted.side_of(m) == "customer"]
        language = detect_language(" ".join(customer_text or [m.text for m in redacted.messages]))
        query = (customer_text or [redacted.messages[-1].text])[-QUERY_MESSAGES:][::-1]
        today = self.today()
        redacted_at = time.perf_counter()
        deal = redacted.deal
        retrieval = self.retriever.retrieve(
            query, language=language, industry=deal.industry, stage=deal.stage, today=today
        )
        return _Prepared(redactor, redacted, language, retrieval, today, redacted_at)

    async def record_action(
        self,
        suggestion_set_id: str,
        action: RepAction,
        *,
        rep: str,
        index: int | None = None,
        final_text: str | None = None,
        names: Sequence[str] = (),
    ) -> AuditEvent:
        """Log the rep's one final action on a set (sent_as_is | edited | dismissed |
        wrote_own | ignored); ``final_text`` is redacted and its edit distance to
        suggestion ``index`` stored. ``names`` are the chat's participants: in the
        stored text they become the pseudonyms the press gave them (as the stored
        suggestions have them), never the names. A second action, another rep, an
        unknown set or a bad index raise :class:`~copilot.errors.ActionRefused`."""
        key = self._pseudonym_key
        people = [name for name in names if name.strip()]

        def redactor_for(conversation_id: str) -> Redactor:
            return Redactor(names=people, key=key, scope=conversation_id)

        return await asyncio.to_thread(
            functools.partial(
                append_action,
                self.audit,
                suggestion_set_id,
                action,
                rep=self._actor(rep),
                index=index,
                final_text=final_text,
                redactor_for=redactor_for if people else None,
            )
        )

    async def record_feedback(
        self,
        suggestion_set_id: str,
        helpful: bool,
        *,
        rep: str,
        index: int | None = None,
        atom_id: str | None = None,
        reason: str = "",
    ) -> AuditEvent:
        """Log "did this help?" on a set, one suggestion (``index``) or one cited atom."""
        return await asyncio.to_thread(
            append_feedback,
            self.audit,
            suggestion_set_id,
            helpful,
            rep=self._actor(rep),
            index=index,
            atom_id=atom_id,
            reason=reason,
        )

    def _guard_replies(
        self, replies: list[Suggestion], ctx: AgentContext
    ) -> tuple[list[Suggestion], list[ComplianceVerdict]]:
        """Every reply shown passes the guard, model-written or not: repaired, or
        dropped when blocked (the next candidate takes its place)."""
        guard = self._guard_for(ctx)
        verdicts: list[ComplianceVerdict] = []
        shown: list[Suggestion] = []
        for index, suggestion in enumerate(replies):
            if len(shown) == SHOWN:
                break
            target = f"suggestion[{len(shown)}]"
            checked = guard.check(target, suggestion.text)
            if checked.text is None:
                verdicts += [v.model_copy(update={"target": f"candidate[{index}]"}) for v in checked.verdicts]
                continue
            verdicts += checked.verdicts
            shown.append(suggestion.model_copy(update={"text": checked.text}))
        return shown, verdicts

    def _guard_others(
        self, competitor: CompetitorResponse | None, chain: DecisionChainReport, ctx: AgentContext
    ) -> tuple[CompetitorResponse | None, DecisionChainReport, list[ComplianceVerdict]]:
        """The competitor answer and the next action pass the same guard."""
        guard = self._guard_for(ctx)
        verdicts: list[ComplianceVerdict] = []
        if competitor is not None:
            checked = guard.check("competitor", competitor.response)
            claim = guard.check("competitor.claim", competitor.claim).text or ""
            verdicts += checked.verdicts
            update = {"response": checked.text, "claim": claim}
            competitor = None if checked.text is None else competitor.model_copy(update=update)
        chain = chain.model_copy(update={"covered": [_guard_quote(guard, c) for c in chain.covered]})
        if chain.next_action is not None:
            checked = guard.check("decision_chain.next_action", chain.next_action.text)
            verdicts += checked.verdicts
            action = (
                None if checked.text is None else chain.next_action.model_copy(update={"text": checked.text})
            )
            chain = chain.model_copy(update={"next_action": action})
        return competitor, chain, verdicts

    def _guard_for(self, ctx: AgentContext) -> ComplianceGuard:
        """One guard per set of competitor names (its patterns compile once)."""
        names = tuple(n for card in ctx.retrieval.battlecards for n in card.competitors)
        guard = self._guards.get(names)
        if guard is None:
            guard = self._guards[names] = ComplianceGuard(
                max_discount_percent=self.settings.max_discount_percent,
                discount_basis=self.settings.discount_policy_basis,
                competitor_names=names,
            )
        return guard

    def _log_shown(
        self,
        original: Conversation,
        redacted: Conversation,
        result: SuggestionSet,
        actor: str | None,
        started: float,
    ) -> None:
        rep = redacted.rep()
        event = AuditEvent(
            type="suggestion_shown",
            actor=self._actor(actor) if actor else (rep.id if rep else ""),
            conversation_id=redacted.id,
            suggestion_set_id=result.id,
            input_digest=_digest(original),
            input=redacted.model_dump(mode="json", by_alias=True, exclude={"id"}),
            output=_audit_output(result),
            engine=result.engine,
            model=result.model,
            prompt_versions=result.prompt_versions,
            atoms=result.atom_versions,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        self.audit.append([event])

    def redact(self, conversation: Conversation) -> Conversation:
        """``conversation`` as it may be stored (connectors' state, exports): PII
        replaced, people's names as this deployment's stable keyed pseudonyms."""
        return redact_conversation(conversation, conversation_redactor(conversation, self._pseudonym_key))

    def _actor(self, actor: str) -> str:
        """A plain id as given; anything else (an email, a name) as its ``[ACTOR_…]`` token."""
        return actor_pseudonym(actor, self._pseudonym_key, has_pii=bool(find_pii(actor)))


@dataclass(frozen=True)
class _Prepared:
    redactor: Redactor
    redacted: Conversation
    language: str
    retrieval: Retrieval
    today: date
    redacted_at: float


async def _isolated(agent: Agent[T], ctx: AgentContext, default: T) -> AgentResult[T]:
    """One agent's failure costs its own part of the answer, never the press."""
    try:
        return await agent.run(ctx)
    except Exception as exc:  # an agent's bug must not fail the button
        log.exception("agent %s failed; its part of the answer is left empty", agent.name)
        return AgentResult(default, Provenance(fallback=f"error: {type(exc).__name__}"))


def _guard_quote(guard: ComplianceGuard, covered: CoveredRole) -> CoveredRole:
    """An evidence quote is shown to the rep too: it passes the guard (blocked: no quote)."""
    if covered.evidence is None:
        return covered
    quote = guard.check("decision_chain.evidence", covered.evidence.quote).text or ""
    return covered.model_copy(update={"evidence": covered.evidence.model_copy(update={"quote": quote})})


def _no_chain() -> DecisionChainReport:
    return DecisionChainReport()


def _lap(timings: dict[str, float], name: str, since: float) -> float:
    now = time.perf_counter()
    timings[name] = (now - since) * 1000
    return now


_LOGGED_ELSEWHERE = {
    "id",
    "conversation_id",
    "engine",
    "model",
    "prompt_versions",
    "atom_versions",
    "timings_ms",
}
"""SuggestionSet fields the event has fields of its own for (``suggestion_set_id``, ``atoms`` …)."""


def _audit_output(result: SuggestionSet) -> dict[str, Any]:
    """What the log keeps of ``result``: once each, so a ``suggestion_shown`` row is about
    half its old size. Each agent's provenance keeps only what differs from the default
    (a grounded answer with no fallback logs ``{}``); its prompt is in ``prompt_versions``."""
    output = result.model_dump(mode="json", exclude=_LOGGED_ELSEWHERE | {"provenance"})
    output["provenance"] = {
        agent: p.model_dump(mode="json", exclude_defaults=True, exclude={"prompt"})
        for agent, p in result.provenance.items()
    }
    return output


def _new_set_id() -> str:
    """``ss-`` and 20 hex digits: milliseconds (11), then 36 random bits. Ids that grow with
    time keep the audit log's set-id indexes appending at their end."""
    return f"ss-{time.time_ns() // 1_000_000:011x}{secrets.token_hex(5)[:9]}"


def _digest(conversation: Conversation) -> str:
    canonical = canonical_json(conversation.model_dump(mode="json", by_alias=True))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _cited_versions(
    versions: dict[str, int],
    suggestions: list[Suggestion],
    competitor: CompetitorResponse | None,
    chain: DecisionChainReport,
    guidance: list[Guidance],
) -> dict[str, int]:
    cited = [c for s in suggestions for c in s.citations]
    cited += [c for g in guidance for c in g.citations]
    cited += competitor.citations if competitor else []
    cited += [chain.playbook] if chain.playbook else []
    return {atom_id: versions[atom_id] for atom_id in dict.fromkeys(cited) if atom_id in versions}
