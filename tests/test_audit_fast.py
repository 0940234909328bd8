"""The append fast path writes exactly what the documented slow path would.

``canonical_bytes`` (orjson) must equal ``canonical_json`` (json.dumps) byte for
byte, and ``json_row`` must equal ``chain_row`` (pydantic), or rows appended now
would not re-verify with ``canonical_json`` + ``hashlib`` from an export.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from audit import AuditEvent, canonical_json, chain_hash
from audit._chain import canonical_bytes
from audit._facts import fact_of
from audit._rows import chain_batch, json_row

_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=30)
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(_text, _json, max_size=6))
def test_canonical_bytes_is_canonical_json(row: dict[str, Any]) -> None:
    assert canonical_bytes(row) == canonical_json(row).encode("utf-8")


def test_numbers_orjson_writes_differently_take_the_slow_path() -> None:
    for value in (1e-05, 9.99e-05, 1e16, 1.5e300, -2.5e-07, 1e22, 2**64, 0.0001, 12.5):
        row = {"x": value, "y": [value], "z": {"k": value}}
        assert canonical_bytes(row) == canonical_json(row).encode("utf-8")


def _events() -> list[AuditEvent]:
    at = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    return [
        AuditEvent(
            type="suggestion_shown",
            at=at + timedelta(microseconds=7),
            actor="U1",
            conversation_id="slack:C1",
            suggestion_set_id="ss-1",
            input_digest="a" * 64,
            input={"messages": [{"text": "价格 1e-05 \u2028 \x00"}]},
            output={
                "suggestions": [{"text": "x", "citations": ["a-1"]}],
                "fallback": {"reason": "timeout"},
                "decision_chain": {"missing_roles": ["cfo"]},
                "competitor": {"name": "极光数仓"},
                "n": 1e-05,
            },
            engine="grounded",
            prompt_versions={"reply": "reply@1", "decision_chain": "decision_chain@1"},
            atoms={"a-1": 3},
            latency_ms=12.25,
        ),
        AuditEvent(
            type="rep_action",
            suggestion_set_id="ss-1",
            action="edited",
            suggestion_index=0,
            final_text="y",
            edit_distance=1,
        ),
        AuditEvent(type="feedback", suggestion_set_id="ss-1", helpful=False, atom_id="a-1", reason="off"),
        AuditEvent(type="atom_changed", at=datetime(2026, 1, 1, 8, tzinfo=UTC), output={"atom_id": "a"}),
        AuditEvent(type="incident", reason="r", latency_ms=0.0),
    ]


def test_json_row_is_chain_row() -> None:
    for event in _events():
        assert json_row(event) == event.chain_row()


def test_chain_batch_hashes_as_documented() -> None:
    stored, rows, facts = chain_batch(_events(), 41, "f" * 64)
    prev = "f" * 64
    for event, (seq, body, digest), fact in zip(stored, rows, facts, strict=True):
        assert event.seq == seq and event.prev_hash == prev and event.hash == digest
        assert body == canonical_json(event.chain_row())
        assert digest == chain_hash(prev, event.chain_row())
        assert digest == hashlib.sha256((prev + body).encode("utf-8")).hexdigest()
        assert tuple(fact) == fact_of(event).row()
        prev = digest


def test_restamped_event_is_the_model_copy() -> None:
    from audit._rows import _restamped

    for event in _events():
        fast = _restamped(event, 7, "a" * 64, "b" * 64)
        slow = event.model_copy(update={"seq": 7, "prev_hash": "a" * 64, "hash": "b" * 64})
        assert fast == slow and fast.model_fields_set == slow.model_fields_set
        assert fast.model_dump() == slow.model_dump()


def test_events_with_floats_orjson_writes_differently_hash_as_documented() -> None:
    for value in (1e-05, 5e-324, 2.5e-07, 0.0001, 1e16, 9.999e15, -3e-5):
        event = AuditEvent(type="incident", output={"x": [value, {"y": value}]}, latency_ms=abs(value))
        [stored], [(_, body, _)], _ = chain_batch([event], 0, "0" * 64)
        assert body == canonical_json(stored.chain_row())


def test_numbers_that_may_differ_are_found_by_substring() -> None:
    from audit._chain import _numbers_may_differ

    for data in (b'{"x":1e-8}', b'{"x":[0.00001]}', b'{"x":{"y":2.5e+20}}', b'{"x":-3e-5}'):
        assert _numbers_may_differ(data), data
    for data in (b'{"t":"e-mail, one-time"}', b'{"x":1.5,"y":12}', b'{"x":0.001}', b'{"at":"10:00.000000"}'):
        assert not _numbers_may_differ(data), data
