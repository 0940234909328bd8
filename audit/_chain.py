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
from collections.abc import Mapping
from typing import Any

__all__ = ["GENESIS_HASH", "canonical_json", "chain_hash", "text_hash"]

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first row."""


def canonical_json(row: Mapping[str, Any]) -> str:
    """The one text form of ``row`` that is hashed.

    Raises ``ValueError`` for NaN/infinity and for text that is not valid
    Unicode (a lone surrogate), since neither has a canonical UTF-8 form.
    """
    text = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
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
