"""The rep's answer to a suggestion set: one final action, any number of feedbacks.

``append_action`` appends a ``rep_action`` event: which suggestion, the final text
(redacted here, before it is stored) and its edit distance to that suggestion.
Each set takes one final action, by the rep it was shown to; the database
refuses a second one even when two processes race (a unique index). A sweep
records ``ignored`` for sets left without an action (see ``sweep_ignored``).
``append_feedback`` appends ``feedback`` (helpful or not, optional reason, about
one suggestion or one atom of the set).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from copilot import Redactor
from copilot.errors import ActionRefused

from ._events import AuditEvent, RepAction
from ._store import AuditStore

__all__ = [
    "MAX_FINAL_TEXT",
    "append_action",
    "append_feedback",
    "edit_distance",
    "find_shown",
    "sweep_forever",
    "sweep_ignored",
]

logger = logging.getLogger("copilot.audit")

MAX_FINAL_TEXT = 10_000
"""Characters of final text accepted (WeCom caps a message at 2,048 bytes, Slack at 40,000)."""
MAX_REASON = 1_000
ACTIONS: tuple[RepAction, ...] = ("sent_as_is", "edited", "dismissed", "wrote_own", "ignored")


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between ``a`` and ``b`` in characters (insert, delete, substitute)."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def find_shown(store: AuditStore, suggestion_set_id: str) -> AuditEvent:
    """The ``suggestion_shown`` event of ``suggestion_set_id``; ``ActionRefused`` if none."""
    if not suggestion_set_id:
        raise ActionRefused("a suggestion set id is required (the `id` of the SuggestionSet, ss-…)")
    shown = next(store.events(type="suggestion_shown", suggestion_set_id=suggestion_set_id, limit=1), None)
    if shown is None:
        message = (
            f"suggestion set {suggestion_set_id!r} is not in the audit log; use the id printed by"
            " `copilot suggest --json` (and the same COPILOT_HOME / COPILOT_DATABASE_URL)"
        )
        raise ActionRefused(message)
    return shown


def _suggestion_texts(shown: AuditEvent) -> list[str]:
    output: Any = shown.output or {}
    suggestions = output.get("suggestions") or []
    return [str(s.get("text", "")) for s in suggestions if isinstance(s, dict)]


def _check_rep(shown: AuditEvent, rep: str, what: str) -> None:
    if rep != shown.actor:
        message = (
            f"{what} on suggestion set {shown.suggestion_set_id} refused: it was shown to rep"
            f" {shown.actor!r}, not {rep!r}; only that rep records it"
        )
        raise ActionRefused(message)


def _check_index(shown: AuditEvent, index: int | None, texts: list[str]) -> None:
    if index is not None and not 0 <= index < len(texts):
        message = (
            f"suggestion set {shown.suggestion_set_id} showed {len(texts)} suggestion(s):"
            f" --index must be 0 to {len(texts) - 1}, not {index}"
        )
        raise ActionRefused(message)


def _clean_text(text: str | None, limit: int, what: str, redactor: Redactor | None = None) -> str | None:
    if text is None:
        return None
    if len(text) > limit:
        raise ActionRefused(f"{what} is {len(text)} characters; at most {limit} are accepted")
    return (redactor or Redactor()).redact(text)


def _final(
    shown: AuditEvent, action: RepAction, index: int | None, final_text: str | None, texts: list[str]
) -> tuple[str | None, int | None]:
    """The final text to store and its edit distance to the suggestion at ``index``."""
    set_id = shown.suggestion_set_id
    if action in ("sent_as_is", "edited") and index is None:
        raise ActionRefused(f"{action} on {set_id} needs the index of the suggestion (--index 0..2)")
    if action == "edited" and not final_text:
        raise ActionRefused(f"edited on {set_id} needs the text that was sent (--text-file FILE)")
    if action == "wrote_own" and not final_text:
        raise ActionRefused(f"wrote_own on {set_id} needs the text the rep wrote (--text-file FILE)")
    if action in ("dismissed", "ignored") and final_text:
        raise ActionRefused(f"{action} on {set_id} sends nothing: leave out the final text")
    if action == "sent_as_is":
        assert index is not None
        if final_text is not None and final_text != texts[index]:
            raise ActionRefused(f"the text differs from suggestion {index} of {set_id}: record it as edited")
        return texts[index], 0
    if final_text is None:
        return None, None
    return final_text, (edit_distance(texts[index], final_text) if index is not None else None)


def append_action(
    store: AuditStore,
    suggestion_set_id: str,
    action: RepAction,
    *,
    rep: str,
    index: int | None = None,
    final_text: str | None = None,
    reason: str = "",
    redactor_for: Callable[[str], Redactor] | None = None,
) -> AuditEvent:
    """Append the set's one final action (``ActionRefused`` when it cannot be recorded).

    ``rep`` must be the rep the set was shown to (the ``actor`` of its
    ``suggestion_shown`` event, as stored). ``final_text`` is redacted here, by
    ``redactor_for(conversation_id)`` when given: the press's own redactor, so the
    participants' names become the same pseudonyms the stored suggestions carry.
    """
    if action not in ACTIONS:
        raise ActionRefused(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    shown = find_shown(store, suggestion_set_id)
    _check_rep(shown, rep, action)
    texts = _suggestion_texts(shown)
    _check_index(shown, index, texts)
    redactor = redactor_for(shown.conversation_id) if redactor_for else None
    cleaned = _clean_text(final_text, MAX_FINAL_TEXT, "the final text", redactor)
    text, distance = _final(shown, action, index, cleaned, texts)
    event = AuditEvent(
        type="rep_action",
        actor=shown.actor,
        conversation_id=shown.conversation_id,
        suggestion_set_id=suggestion_set_id,
        action=action,
        suggestion_index=index,
        final_text=text,
        edit_distance=distance,
        reason=_clean_text(reason, MAX_REASON, "the reason", redactor) or "",
    )
    [stored] = store.append([event])
    return stored


def append_feedback(
    store: AuditStore,
    suggestion_set_id: str,
    helpful: bool,
    *,
    rep: str,
    index: int | None = None,
    atom_id: str | None = None,
    reason: str = "",
) -> AuditEvent:
    """Append ``feedback`` on a whole set, one suggestion (``index``) or one atom it used."""
    shown = find_shown(store, suggestion_set_id)
    _check_rep(shown, rep, "feedback")
    _check_index(shown, index, _suggestion_texts(shown))
    if atom_id and atom_id not in shown.atoms:
        used = ", ".join(sorted(shown.atoms)) or "none"
        message = f"atom {atom_id!r} was not used by suggestion set {suggestion_set_id} (it used: {used})"
        raise ActionRefused(message)
    event = AuditEvent(
        type="feedback",
        actor=shown.actor,
        conversation_id=shown.conversation_id,
        suggestion_set_id=suggestion_set_id,
        helpful=helpful,
        suggestion_index=index,
        atom_id=atom_id or "",
        reason=_clean_text(reason, MAX_REASON, "the reason") or "",
    )
    [stored] = store.append([event])
    return stored


def sweep_ignored(store: AuditStore, window: timedelta, *, now: datetime | None = None) -> list[AuditEvent]:
    """Record ``ignored`` for every set shown more than ``window`` ago without a final action.

    Safe to run from several processes at once: a set that meanwhile got its
    action (or another sweep's ``ignored``) is skipped.
    """
    cutoff = (now or datetime.now(UTC)) - window
    hours = window.total_seconds() / 3600
    recorded: list[AuditEvent] = []
    for set_id, rep in store.unanswered(shown_before=cutoff):
        try:
            recorded.append(
                append_action(store, set_id, "ignored", rep=rep, reason=f"no action within {hours:g} h")
            )
        except ActionRefused:
            continue
    if recorded:
        logger.info("audit sweep: %d set(s) ignored after %g h", len(recorded), hours)
    return recorded


async def sweep_forever(store: AuditStore, window: timedelta, *, every_s: float = 300.0) -> None:
    """Run :func:`sweep_ignored` every ``every_s`` seconds until cancelled (for ``copilot serve``).

    A failed sweep is logged and retried at the next tick; it never stops the server.
    """
    while True:
        try:
            await asyncio.to_thread(sweep_ignored, store, window)
        except Exception:
            logger.exception("audit sweep failed; retrying in %g s", every_s)
        await asyncio.sleep(every_s)
