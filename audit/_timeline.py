"""One suggestion set's story, shared by ``copilot audit show`` and the ``/review`` timeline.

``set_timeline(events)`` orders a set's events into what was shown (input,
suggestions, guidance, competitor, decision chain, compliance), the final action
and the feedback; ``diff_ops`` compares a suggestion with what was sent, word by
word (character by character for Chinese). Both return plain data: each front
end escapes and renders it its own way.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from ._events import AuditEvent

__all__ = ["DiffOp", "SetTimeline", "diff_ops", "set_timeline"]

DiffOp = tuple[Literal["equal", "removed", "added"], str]


def _tokens(text: str, ascii_only: bool) -> list[str]:
    return text.split(" ") if ascii_only else list(text)


def diff_ops(suggested: str, sent: str) -> list[DiffOp]:
    """``suggested`` → ``sent`` as (op, text) runs: words for ASCII text, characters otherwise."""
    ascii_only = (suggested + sent).isascii()
    joiner = " " if ascii_only else ""
    a, b = _tokens(suggested, ascii_only), _tokens(sent, ascii_only)
    ops: list[DiffOp] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            ops.append(("equal", joiner.join(a[a1:a2])))
            continue
        if a2 > a1:
            ops.append(("removed", joiner.join(a[a1:a2])))
        if b2 > b1:
            ops.append(("added", joiner.join(b[b1:b2])))
    if not ascii_only:
        return ops
    spaced: list[DiffOp] = []  # ASCII words: put the spaces back between runs
    for i, (kind, text) in enumerate(ops):
        spaced.append((kind, text + (" " if i < len(ops) - 1 else "")))
    return spaced


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


@dataclass
class SetTimeline:
    """A suggestion set as plain data (``shown`` is None when only later events remain)."""

    set_id: str
    shown: AuditEvent | None = None
    action: AuditEvent | None = None
    feedback: list[AuditEvent] = field(default_factory=list)
    others: list[AuditEvent] = field(default_factory=list)

    @property
    def rep(self) -> str:
        first = self.shown or self.action or (self.feedback[0] if self.feedback else None)
        return first.actor if first is not None else ""

    @property
    def output(self) -> dict[str, Any]:
        return dict(self.shown.output or {}) if self.shown is not None else {}

    @property
    def messages(self) -> list[dict[str, Any]]:
        source = self.shown.input if self.shown is not None else None
        return _dicts((source or {}).get("messages"))

    @property
    def participants(self) -> dict[str, dict[str, Any]]:
        source = self.shown.input if self.shown is not None else None
        return {str(p.get("id")): p for p in _dicts((source or {}).get("participants"))}

    @property
    def suggestions(self) -> list[dict[str, Any]]:
        return _dicts(self.output.get("suggestions"))

    @property
    def guidance(self) -> list[dict[str, Any]]:
        return _dicts(self.output.get("guidance"))

    @property
    def compliance(self) -> list[dict[str, Any]]:
        return _dicts(self.output.get("compliance"))

    @property
    def competitor(self) -> dict[str, Any] | None:
        value = self.output.get("competitor")
        return value if isinstance(value, dict) else None

    @property
    def decision_chain(self) -> dict[str, Any]:
        value = self.output.get("decision_chain")
        return value if isinstance(value, dict) else {}

    @property
    def atoms(self) -> dict[str, int]:
        return dict(self.shown.atoms) if self.shown is not None else {}

    def suggested_text(self) -> str | None:
        """The text of the suggestion the final action was about, if any."""
        if self.action is None or self.action.suggestion_index is None:
            return None
        suggestions = self.suggestions
        index = self.action.suggestion_index
        return str(suggestions[index].get("text", "")) if 0 <= index < len(suggestions) else None

    def diff(self) -> list[DiffOp] | None:
        """Suggestion vs what was sent, when the rep sent (or edited) a suggestion."""
        suggested = self.suggested_text()
        if suggested is None or self.action is None or self.action.final_text is None:
            return None
        return diff_ops(suggested, self.action.final_text)


def set_timeline(set_id: str, events: Iterable[AuditEvent]) -> SetTimeline:
    """Sort one set's events (oldest first) into its timeline."""
    timeline = SetTimeline(set_id)
    for event in events:
        if event.type == "suggestion_shown" and timeline.shown is None:
            timeline.shown = event
        elif event.type == "rep_action" and timeline.action is None:
            timeline.action = event
        elif event.type == "feedback":
            timeline.feedback.append(event)
        else:
            timeline.others.append(event)
    return timeline
