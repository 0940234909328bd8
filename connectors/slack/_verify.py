"""Slack request signatures, checked before anything else looks at a request.

Slack signs ``v0:{X-Slack-Request-Timestamp}:{raw body}`` with HMAC-SHA256 under the
app's signing secret and sends ``v0=<hex>`` in ``X-Slack-Signature``. A request whose
timestamp is more than five minutes from now is refused even when signed (replay).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

__all__ = ["MAX_AGE_S", "sign", "signature_problem"]

MAX_AGE_S = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Slack-Signature`` Slack would send for ``body`` at ``timestamp``."""
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def signature_problem(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: float | None = None
) -> str | None:
    """None when the request is signed by Slack and fresh, else what is wrong (for a
    counter or a log line: never the body or the signature itself)."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not timestamp or not signature:
        return "unsigned"
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return "bad timestamp"
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > MAX_AGE_S:
        return "stale timestamp"
    expected = sign(secret, timestamp, body).encode("ascii")
    if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
        return "bad signature"
    return None
