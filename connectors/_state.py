"""Conversation state per chat, and the claims that make platform retries idempotent.

One small store beside the audit log, on the same backend: a SQLite file under
``COPILOT_HOME`` by default, PostgreSQL when ``COPILOT_DATABASE_URL`` is set.
Every worker of ``copilot serve`` opens the same store, so::

    store = open_state_store(settings)
    if store.claim("slack:event:Ev0123"):      # True for exactly one caller, in any worker
        store.update("slack:C0DEAL", lambda s: s.model_copy(update={"deal": deal}))

A chat key is the connector's choice (``slack:<channel>`` for a channel's deal,
``slack:<channel>:<thread_ts>`` for a thread, ``wecom:<chat id>``). Everything
written is redacted again on the way in, so no raw personal data reaches the disk
even if a caller forgot. Calls are synchronous and thread-safe: call them from
async code with ``asyncio.to_thread``. ``put_secret``/``get_secret`` keep sealed
(encrypted by the caller) values such as the Slack user tokens reps install.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from copilot import Deal, Message, Participant, Settings, redact_text

__all__ = [
    "MAX_KEPT_MESSAGES",
    "MAX_KEPT_SETS",
    "ChatState",
    "ShownSet",
    "StateStore",
    "open_state_store",
]

MAX_KEPT_MESSAGES = 200
MAX_KEPT_SETS = 20
CLAIM_RETENTION_S = 24 * 3600


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ShownSet(_Model):
    """A suggestion set shown to a rep in this chat, kept to resolve the rep's next move
    (a button, or a message typed within the reply window)."""

    id: str = Field(min_length=1, max_length=64)
    rep: str = Field(min_length=1, max_length=128)
    suggestions: list[str] = Field(default_factory=list)
    at: float = Field(description="Unix time it was shown.")
    acted: bool = False
    place: dict[str, str] = Field(default_factory=dict, description="Where to post, e.g. channel, thread_ts.")


class ChatState(_Model):
    """What a connector remembers about one chat: deal, who is who, the (redacted)
    messages seen, and the suggestion sets shown there."""

    deal: Deal | None = None
    participants: list[Participant] = Field(default_factory=list)
    messages: list[Message] = Field(default_factory=list)
    shown: list[ShownSet] = Field(default_factory=list)
    updated_at: float = 0.0

    def shown_set(self, set_id: str) -> ShownSet | None:
        return next((s for s in self.shown if s.id == set_id), None)

    def with_set(self, shown: ShownSet) -> ChatState:
        """This state with ``shown`` added or replaced (same id), newest last."""
        kept = [s for s in self.shown if s.id != shown.id] + [shown]
        return self.model_copy(update={"shown": kept[-MAX_KEPT_SETS:]})


class StateStore(Protocol):
    """Chat state and idempotency claims. Both backends pass ``tests/test_state.py``."""

    def get(self, key: str) -> ChatState | None:
        """The chat's state, or None when nothing was stored under ``key``."""
        ...

    def update(self, key: str, change: Callable[[ChatState], ChatState]) -> ChatState:
        """Atomically read the chat's state (empty when new), apply ``change`` and store
        the result, redacted; concurrent updates of one key from any worker serialise."""
        ...

    def claim(self, key: str) -> bool:
        """True for the first caller to claim ``key`` (a platform event id), False for
        every later one, in any process, for at least 24 hours."""
        ...

    def put_secret(self, key: str, sealed: bytes | None) -> None:
        """Keep ``sealed`` (bytes the caller already encrypted, e.g. a rep's Slack user
        token) under ``key``, replacing any; None deletes it. Apart from chat state:
        stored as given, never redacted, never logged."""
        ...

    def get_secret(self, key: str) -> bytes | None:
        """What ``put_secret`` stored under ``key``, or None."""
        ...

    def ping(self) -> None:
        """Raise ``StoreError`` unless the database answers."""
        ...

    def close(self) -> None: ...


def open_state_store(settings: Settings) -> StateStore:
    """PostgreSQL when ``COPILOT_DATABASE_URL`` is a postgresql:// URL, else the SQLite
    file ``COPILOT_HOME/state.sqlite3`` (created private: 0600 in a 0700 folder)."""
    url = settings.database_url or ""
    if url.split("://", 1)[0].split("+")[0].lower() in ("postgresql", "postgres"):
        from ._state_pg import PostgresStateStore

        return PostgresStateStore(url)
    from ._state_sqlite import SQLiteStateStore

    return SQLiteStateStore(settings.state_path)


def scrubbed(state: ChatState) -> ChatState:
    """``state`` with every free-text field redacted and the history capped."""
    deal = state.deal
    if deal is not None:
        deal = deal.model_copy(
            update={"customer": redact_text(deal.customer), "product": redact_text(deal.product)}
        )
    participants = [
        p.model_copy(update={"name": redact_text(p.name), "title": redact_text(p.title)})
        for p in state.participants
    ]
    messages = [
        m.model_copy(update={"text": redact_text(m.text)}) for m in state.messages[-MAX_KEPT_MESSAGES:]
    ]
    shown = [
        s.model_copy(update={"suggestions": [redact_text(t) for t in s.suggestions]}) for s in state.shown
    ]
    return ChatState(
        deal=deal,
        participants=participants,
        messages=messages,
        shown=shown[-MAX_KEPT_SETS:],
        updated_at=time.time(),
    )
