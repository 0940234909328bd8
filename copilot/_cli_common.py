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
    """Read and validate a conversation file; errors name the file and the field."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConversationError(f"{path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_CONVERSATION_BYTES:
        raise ConversationError(f"{path}: {len(raw)} bytes is over the {MAX_CONVERSATION_BYTES} byte limit")
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ConversationError(f"{path}: not valid UTF-8 at byte {exc.start}; save it as UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ConversationError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    try:
        return Conversation.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'document'}: {e['msg']}" for e in exc.errors()
        )
        raise ConversationError(f"{path}: not a valid conversation: {problems}") from None
