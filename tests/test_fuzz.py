"""Fuzzing (Hypothesis): the conversation and atom parsers and the redactor give a
result or a clean CopilotError for any input, never another exception."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from copilot import Conversation, Redactor, find_pii
from copilot._cli_common import load_conversation
from copilot.errors import CopilotError
from knowledge import Atom, parse_atom

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text that reaches the interesting code: digits, separators, CJK, markup, controls, surrogates.
ALPHABET = st.sampled_from(
    [
        *"0123456789０１２３４５６７８９ +-.()@_xX[]{}/:：，。号路街微信护照",
        *["\u200b", "\u202e", "\x1b", "\x00", "\ud800", "\n", "\t", "E", "G", "w", "i", "d"],
    ]
)
TEXT = st.one_of(st.text(), st.text(alphabet=ALPHABET, max_size=120))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=30,
)
FIELDS = ["id", "channel", "deal", "participants", "messages", "customer", "from", "text", "side", "name"]


def conversation_like() -> st.SearchStrategy[Any]:
    """Documents near the conversation shape: known keys, arbitrary values."""
    keyed = st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=6)
    message = st.fixed_dictionaries({"from": TEXT, "text": TEXT})
    near = st.fixed_dictionaries(
        {
            "id": TEXT,
            "deal": st.fixed_dictionaries({"customer": TEXT}, optional={"product": TEXT, "stage": TEXT}),
            "messages": st.lists(message, max_size=3),
        },
        optional={"participants": st.lists(st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=4))},
    )
    return st.one_of(JSON, keyed, near)


def _load(raw: bytes) -> Conversation:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.json"
        path.write_bytes(raw)
        return load_conversation(path)


@FUZZ
@given(st.one_of(st.binary(max_size=400), conversation_like().map(lambda d: json.dumps(d).encode())))
def test_conversation_parser_gives_a_conversation_or_a_copilot_error(raw: bytes) -> None:
    try:
        conversation = _load(raw)
    except CopilotError:
        return
    assert isinstance(conversation, Conversation)


HEADER_LINES = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "id: a-b",
                "type: objection",
                "title: t",
                "language: zh",
                "status: approved",
                "approved_by: x",
                "version: 1",
                "stages: [poc]",
                "valid_until: 2027-02-30",
                "required_roles: {poc: [cto]}",
                "a: &x [*x]",
                "- list",
                "key: !!python/object:os.system ls",
            ]
        ),
        TEXT,
    ),
    max_size=10,
)


@FUZZ
@given(st.one_of(st.binary(max_size=400), st.tuples(HEADER_LINES, TEXT)))
def test_atom_parser_gives_an_atom_or_a_copilot_error(case: bytes | tuple[list[str], str]) -> None:
    if isinstance(case, tuple):
        lines, body = case
        raw = ("---\n" + "\n".join(lines) + "\n---\n" + body).encode("utf-8", "surrogatepass")
    else:
        raw = case
    try:
        atom = parse_atom(raw, "fuzz.md")
    except CopilotError:
        return
    assert isinstance(atom, Atom)


@FUZZ
@given(TEXT, st.lists(TEXT, max_size=3))
def test_redactor_never_raises_and_is_idempotent(text: str, names: list[str]) -> None:
    matches = find_pii(text)
    end = 0
    for match in matches:
        assert end <= match.start < match.end <= len(text) and text[match.start : match.end] == match.value
        end = match.end
    redactor = Redactor(names=names, key=b"fuzz-key-0123456789", scope="c")
    once = redactor.redact(text)
    assert redactor.redact(once) == once
    assert isinstance(redactor.restore(once), str)
