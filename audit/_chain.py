"""Canonical JSON and the hash chain.

A row's hash is ``sha256(prev_hash + canonical_json(row))`` where ``row`` is the
event as JSON without its ``hash`` field (it does include ``seq`` and
``prev_hash``). Canonical JSON sorts keys, uses the separators ``,`` and ``:``,
keeps non-ASCII text as is (UTF-8) and refuses NaN and infinities. Datetimes are
already strings by then: ISO-8601 in UTC with microseconds (see ``AuditEvent``).

Anyone can re-verify a log with these two functions and ``hashlib`` alone.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

import orjson

__all__ = ["GENESIS_HASH", "canonical_bytes", "canonical_json", "chain_hash", "text_hash"]

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first row."""


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _numbers_may_differ(data: bytes) -> bool:
    """Whether orjson's ``data`` may hold a number that ``json.dumps`` writes differently:
    one with an exponent (a digit, then ``e-`` or ``e+``: Python writes ``1e-08`` where
    orjson writes ``1e-8``) or one below 1e-4 (``0.0000…``, which Python writes with an
    exponent). Text that merely looks so costs only the slow path; every other number is
    written identically. Patterns that start with a literal: ten times faster than one
    that starts with a character class."""
    for pattern, before in ((_EXPONENT, _DIGITS), (_TINY, _NUMBER_STARTS)):
        for match in pattern.finditer(data):
            at = match.start()
            if at and data[at - 1] in before:
                return True
    return False


_EXPONENT = re.compile(rb"e[-+]")
_TINY = re.compile(rb"0\.0000")
_DIGITS = frozenset(b"0123456789")
_NUMBER_STARTS = frozenset(b":,[-")
"""What comes right before a number that starts ``0.0000`` (not a time's ``00.000000``)."""


def canonical_bytes(row: Mapping[str, Any], *, floats: bool = True) -> bytes:
    """``canonical_json(row)`` encoded as UTF-8, ten times faster, for a row that
    already passed ``canonical_json`` once (``AuditEvent`` checks that when built:
    orjson would write NaN as ``null`` where ``canonical_json`` refuses it).

    orjson writes the same text as ``json.dumps`` for strings (every code point),
    integers, nesting and key order; where a number might be written differently
    (or orjson refuses the value) this falls back to ``json.dumps``. ``floats=False``
    skips looking for such numbers in a row known to hold none (integers are written alike).
    """
    try:
        data = orjson.dumps(row, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # an integer beyond 64 bits, a lone surrogate, a non-str key, NaN
        return canonical_json(row).encode("utf-8")
    if floats and _numbers_may_differ(data):
        return canonical_json(row).encode("utf-8")
    return data


def canonical_json(row: Mapping[str, Any]) -> str:
    """The one text form of ``row`` that is hashed.

    Raises ``ValueError`` for NaN/infinity and for text that is not valid
    Unicode (a lone surrogate), since neither has a canonical UTF-8 form.
    """
    text = _ENCODER.encode(row)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        message = f"audit rows must be valid Unicode text: {exc.reason} at position {exc.start}"
        raise ValueError(message) from exc
    return text


def chain_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    """SHA-256 hex digest of ``prev_hash`` followed by the canonical JSON of ``row``."""
    return text_hash(prev_hash, canonical_json(row))


def text_hash(prev_hash: str, canonical_text: str) -> str:
    """SHA-256 hex digest of ``prev_hash`` followed by already-canonical JSON text."""
    return hashlib.sha256((prev_hash + canonical_text).encode("utf-8")).hexdigest()
