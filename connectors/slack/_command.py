"""``/suggest`` text: press Suggest, show the deal, or set it.

    /suggest                                    suggest replies for this channel
    /suggest deal                               show the channel's deal context
    /suggest deal customer="华东精工" industry=manufacturing stage=proposal product="MES Cloud"
    /suggest connect | disconnect               let Send post as you (or stop)
    /suggest help

Values with spaces go in double quotes (Slack's curly quotes are accepted too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from pydantic import ValidationError

from copilot import STAGES, Deal
from copilot.errors import InputError

__all__ = ["DEAL_FIELDS", "USAGE", "SuggestCommand", "merge_deal", "parse_command"]

DEAL_FIELDS = ("customer", "industry", "stage", "product")
USAGE = (
    "*/suggest* — three compliant replies for this conversation, visible only to you\n"
    "*/suggest deal* — show this channel's deal context\n"
    '*/suggest deal customer="华东精工" industry=manufacturing stage=proposal product="MES Cloud"* — set it '
    "(values with spaces in double quotes; stages: " + ", ".join(STAGES) + ")\n"
    "*/suggest connect* — let Send post as you (once); */suggest disconnect* — stop"
)
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "＂": '"', "＝": "="})
_PAIR = re.compile(r'\s*([A-Za-z_]+)\s*=\s*(?:"([^"]*)"|([^\s"]+))')
MAX_COMMAND_CHARS = 1000


@dataclass(frozen=True)
class SuggestCommand:
    kind: Literal["suggest", "show_deal", "set_deal", "help", "connect", "disconnect"]
    fields: dict[str, str] = field(default_factory=dict)


def parse_command(text: str) -> SuggestCommand:
    """What the rep asked for; ``InputError`` (shown to the rep) says what to fix."""
    text = (text or "").translate(_QUOTES).strip()
    if len(text) > MAX_COMMAND_CHARS:
        raise InputError(f"/suggest text is {len(text)} characters; keep it under {MAX_COMMAND_CHARS}")
    if not text:
        return SuggestCommand("suggest")
    head, _, rest = text.partition(" ")
    if head.lower() in ("help", "?"):
        return SuggestCommand("help")
    if head.lower() in ("connect", "disconnect") and not rest.strip():
        return SuggestCommand("connect" if head.lower() == "connect" else "disconnect")
    if head.lower() != "deal":
        raise InputError(f"unknown /suggest option {head[:40]!r}. Usage:\n{USAGE}")
    rest = rest.strip()
    if not rest:
        return SuggestCommand("show_deal")
    fields: dict[str, str] = {}
    position = 0
    while position < len(rest):
        match = _PAIR.match(rest, position)
        if match is None:
            bad = rest[position:].strip()[:40]
            raise InputError(
                f"cannot read {bad!r}: write key=value pairs, with double quotes around values with spaces"
            )
        key = match.group(1).lower()
        if key not in DEAL_FIELDS:
            raise InputError(f"unknown deal field {key!r}; the fields are {', '.join(DEAL_FIELDS)}")
        value = match.group(2) if match.group(2) is not None else match.group(3)
        fields[key] = value.strip()
        position = match.end()
    if "stage" in fields:
        fields["stage"] = fields["stage"].lower()
        if fields["stage"] not in STAGES:
            raise InputError(f"unknown stage {fields['stage'][:40]!r}; use one of {', '.join(STAGES)}")
    return SuggestCommand("set_deal", fields)


def merge_deal(current: Deal | None, fields: dict[str, str]) -> Deal:
    """``current`` with ``fields`` applied; the first deal of a channel needs a customer."""
    data = current.model_dump() if current else {}
    data.update(fields)
    if not data.get("customer"):
        raise InputError('this channel has no deal yet: set the customer too, e.g. customer="华东精工"')
    try:
        return Deal.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InputError(f"invalid deal: {problems}") from None
