"""Who may see what in ``/review``: sign-in tokens, roles, signed sessions, CSRF tokens.

Tokens come from ``COPILOT_REVIEW_TOKENS`` (JSON, a secret) or the file named by
``COPILOT_REVIEW_TOKENS_FILE``::

    {"<token>": {"role": "manager", "id": "M1", "team": "east"},
     "<token>": {"role": "rep", "id": "U1"},
     "<token>": {"role": "admin", "id": "compliance"}}

A rep sees their own sets (``id`` is their rep id as stored in the log), a manager
the sets of the reps of their team (``COPILOT_TEAMS``) and their own, an admin
everything. A given token is compared with every configured one in constant time
and is never logged or stored: the session cookie carries a fingerprint of it,
an expiry and a MAC, so removing a token from the settings ends its sessions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from copilot import Settings
from copilot.errors import ConfigError

__all__ = ["Principal", "ReviewAuth", "load_review_tokens"]

Role = Literal["rep", "manager", "admin"]
MIN_TOKEN_CHARS = 16


class Principal(BaseModel):
    """A signed-in reviewer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    id: str = Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f<>\"']+$")
    team: str = Field(default="", max_length=128)

    def reps(self, teams: Mapping[str, list[str]]) -> frozenset[str] | None:
        """Whose sets this reviewer may see (None: everyone's)."""
        if self.role == "admin":
            return None
        if self.role == "manager":
            return frozenset([*teams.get(self.team, ()), self.id])
        return frozenset([self.id])

    def may_see(self, rep: str, teams: Mapping[str, list[str]]) -> bool:
        allowed = self.reps(teams)
        return allowed is None or rep in allowed


def _fingerprint(token: str) -> str:
    return hashlib.sha256(b"copilot-review-token\0" + token.encode("utf-8")).hexdigest()[:32]


def load_review_tokens(settings: Settings) -> dict[str, Principal]:
    """Token -> principal from the settings ({} when none is configured); ``ConfigError``
    naming the setting and the entry (never the token) when malformed."""
    if settings.review_tokens is not None:
        where, text = "COPILOT_REVIEW_TOKENS", settings.review_tokens.get_secret_value()
    elif settings.review_tokens_file is not None:
        where = f"COPILOT_REVIEW_TOKENS_FILE ({settings.review_tokens_file})"
        text = _read_private(settings.review_tokens_file, where)
    else:
        return {}
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{where} is not JSON (line {getattr(exc, 'lineno', '?')})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f'{where} must be a JSON object: {{"<token>": {{"role": "rep", "id": "U1"}}}}')
    tokens: dict[str, Principal] = {}
    for number, (token, entry) in enumerate(raw.items(), 1):
        if len(token) < MIN_TOKEN_CHARS:
            message = (
                f"{where}: token #{number} is shorter than {MIN_TOKEN_CHARS} characters;"
                " make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
            raise ConfigError(message)
        try:
            principal = Principal.model_validate(entry)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'entry'}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"{where}: entry #{number} ({problems})") from None
        if principal.role == "manager" and not principal.team:
            raise ConfigError(f"{where}: entry #{number} is a manager without a team (see COPILOT_TEAMS)")
        tokens[token] = principal
    return tokens


def _read_private(path: Path, where: str) -> str:
    try:
        if path.stat().st_mode & 0o077:
            raise ConfigError(f"{where} is readable by others; run: chmod 600 {path}")
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{where} cannot be read: {exc.strerror}") from None


@dataclass(frozen=True)
class Session:
    principal: Principal
    until: int


class ReviewAuth:
    """Signs and checks session cookies and CSRF tokens with ``key``."""

    COOKIE = "copilot_review"
    CSRF_COOKIE = "copilot_review_csrf"

    def __init__(self, tokens: Mapping[str, Principal], key: bytes, session_s: int) -> None:
        self._by_print = {_fingerprint(token): principal for token, principal in tokens.items()}
        self._digests = [(hashlib.sha256(t.encode("utf-8")).digest(), t) for t in tokens]
        self._key = hashlib.sha256(b"copilot-review-session\0" + key).digest()
        self.session_s = session_s

    @property
    def configured(self) -> bool:
        return bool(self._digests)

    def _mac(self, purpose: str, payload: str) -> str:
        return hmac.new(self._key, f"{purpose}\0{payload}".encode(), hashlib.sha256).hexdigest()

    def check_token(self, given: str) -> tuple[str, Principal] | None:
        """The token's fingerprint and principal, comparing with every token in constant time."""
        digest = hashlib.sha256(given.encode("utf-8", "replace")).digest()
        found: str | None = None
        for known, token in self._digests:
            if hmac.compare_digest(digest, known):
                found = token
        if found is None:
            return None
        fingerprint = _fingerprint(found)
        return fingerprint, self._by_print[fingerprint]

    def session_cookie(self, fingerprint: str, now: float | None = None) -> str:
        until = int(now if now is not None else time.time()) + self.session_s
        payload = base64.urlsafe_b64encode(
            json.dumps([fingerprint, until, secrets.token_hex(8)]).encode()
        ).decode()
        return f"{payload}.{self._mac('session', payload)}"

    def session(self, cookie: str, now: float | None = None) -> Session | None:
        """The session a cookie carries, if its MAC holds, it has not expired and its token
        is still configured."""
        payload, _, mac = cookie.partition(".")
        if not payload or not hmac.compare_digest(
            mac.encode("utf-8", "replace"), self._mac("session", payload).encode()
        ):
            return None
        try:
            fingerprint, until, _nonce = json.loads(base64.urlsafe_b64decode(payload))
        except (ValueError, TypeError):
            return None
        principal = self._by_print.get(str(fingerprint))
        if principal is None or not isinstance(until, int) or until <= (now or time.time()):
            return None
        return Session(principal, until)

    def new_csrf_cookie(self) -> str:
        return secrets.token_urlsafe(24)

    def form_token(self, csrf_cookie: str) -> str:
        """The hidden form field that goes with the browser's CSRF cookie (sign-in)."""
        return self._mac("csrf", csrf_cookie)

    def form_ok(self, csrf_cookie: str, field: str) -> bool:
        if not csrf_cookie or not field:
            return False
        return hmac.compare_digest(field.encode("utf-8", "replace"), self.form_token(csrf_cookie).encode())
