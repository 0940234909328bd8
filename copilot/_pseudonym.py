"""Keyed pseudonyms for people: the same person gets the same token, nobody can reverse it.

A person's name is replaced in what is stored by ``[PERSON_nnnnnn]``, six
digits of HMAC-SHA256(key, scope + name): stable for one key and scope (a
conversation), unlinkable across conversations, and meaningless without the
key. The ``--actor`` of a press, when it is not a plain id, becomes
``[ACTOR_nnnnnn]`` (scope-free, so a manager's report still groups by rep).

The key comes from ``COPILOT_PSEUDONYM_KEY``; without it one is created once in
``COPILOT_HOME/pseudonym.key`` (mode 0600). Several servers sharing one audit
database must share the key setting.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    from ._settings import Settings

__all__ = ["actor_pseudonym", "pseudonym_key", "pseudonym_token"]

KEY_FILE = "pseudonym.key"
MIN_KEY_CHARS = 16
_PLAIN_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")


def pseudonym_key(settings: Settings) -> bytes:
    """The pseudonym key: the setting, else the key file under home (created once, 0600)."""
    if settings.pseudonym_key is not None:
        key = settings.pseudonym_key.get_secret_value()
        if len(key) < MIN_KEY_CHARS:
            raise ConfigError(
                f"COPILOT_PSEUDONYM_KEY is shorter than {MIN_KEY_CHARS} characters; use a long random value"
            )
        return key.encode("utf-8")
    path = settings.home / KEY_FILE
    try:
        return _read_or_create(path)
    except OSError as exc:
        message = (
            f"{path}: cannot read or create the pseudonym key ({exc.strerror}); set COPILOT_PSEUDONYM_KEY"
        )
        raise ConfigError(message) from None


def _read_or_create(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise OSError(0, f"{path} holds no key (empty or truncated)")
    return key.encode("ascii")


def pseudonym_token(kind: str, key: bytes, scope: str, value: str, salt: int = 0) -> str:
    """``[KIND_nnnnnn]`` for ``value`` in ``scope``; ``salt`` resolves a rare collision."""
    message = f"{scope}\0{value}\0{salt}".encode("utf-8", "surrogatepass")
    number = int(hmac.new(key, message, hashlib.sha256).hexdigest()[:12], 16) % 1_000_000
    return f"[{kind}_{number:06d}]"


def actor_pseudonym(actor: str, key: bytes, has_pii: bool) -> str:
    """``actor`` kept when it is a plain id (``rep1``, ``U024BE7LH``) with no PII in it,
    else its ``[ACTOR_nnnnnn]`` token."""
    if not has_pii and _PLAIN_ID.fullmatch(actor):
        return actor
    return pseudonym_token("ACTOR", key, "actor", actor.strip().lower())
