"""What every CLI command shares: settings, consoles, JSON output, input errors."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from rich.console import Console

from ._cli_lazy import BadInput, FailedCheck
from ._models import Conversation
from ._settings import Settings
from ._untrusted import terminal_text
from .errors import ConversationError

__all__ = [
    "BadInput",
    "FailedCheck",
    "err_console",
    "load_conversation",
    "out_console",
    "print_json",
    "settings",
]

out_console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
MAX_CONVERSATION_BYTES = 2 * 1024 * 1024


def settings() -> Settings:
    try:
        loaded = Settings()
    except ValidationError as exc:
        raise BadInput(f"invalid COPILOT_* setting: {exc}") from None
    level = getattr(logging, loaded.log_level.upper(), logging.WARNING)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    # Chroma and httpx are chatty at INFO; they never carry our payloads at WARNING.
    for noisy in ("chromadb", "httpx", "posthog"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    return loaded


def print_json(data: Any) -> None:
    """One JSON document on stdout and nothing else."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def load_conversation(path: Path) -> Conversation:
    """Read and validate a conversation file; errors name the file and the field.

    At most ``MAX_CONVERSATION_BYTES`` + 1 bytes are read, so a device or pipe
    (``/dev/zero``) is refused instead of read forever; nesting deeper than
    Python can parse is bad input, not a traceback.
    """
    shown = terminal_text(str(path))
    try:
        with path.open("rb") as source:
            raw = source.read(MAX_CONVERSATION_BYTES + 1)
    except OSError as exc:
        raise ConversationError(f"{shown}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_CONVERSATION_BYTES:
        raise ConversationError(
            f"{shown}: over the {MAX_CONVERSATION_BYTES} byte limit; split the conversation"
        )
    try:
        data = json.loads(raw.decode("utf-8-sig"))
        return Conversation.model_validate(data)
    except UnicodeDecodeError as exc:
        raise ConversationError(f"{shown}: not valid UTF-8 at byte {exc.start}; save it as UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ConversationError(f"{shown}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise ConversationError(
            f"{shown}: JSON nested too deeply; a conversation is a few levels deep"
        ) from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'document'}: {e['msg']}" for e in exc.errors()
        )
        raise ConversationError(f"{shown}: not a valid conversation: {problems}") from None
