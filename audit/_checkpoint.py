"""The head checkpoint: the newest row's seq and hash, kept outside the database.

A hash chain cannot show that its newest rows were deleted: what is left is
still a valid chain. So after every committed append the store writes
``{"seq": N, "hash": "…"}`` to a small file next to the log, atomically
(temporary file, fsync, ``os.replace``). ``verify()`` then checks that the log
still reaches the checkpoint and that the row at that seq has that hash.

The checkpoint only moves forward. With several writers it may briefly lag the
log by an append or two (one process commits, another overwrites the file
first); a log that extends past its checkpoint still verifies.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Checkpoint", "advance_checkpoint", "read_checkpoint"]


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str


def read_checkpoint(path: Path) -> Checkpoint | None:
    """The checkpoint in ``path``, or None if there is none.

    Raises ``ValueError`` when the file exists but is not a checkpoint.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
        seq, digest = data["seq"], data["hash"]
    except (ValueError, TypeError, KeyError) as exc:
        message = f"head checkpoint {path} is unreadable ({exc!r})"
        raise ValueError(message) from exc
    if not isinstance(seq, int) or not isinstance(digest, str):
        message = f"head checkpoint {path} is unreadable (seq must be an integer, hash a string)"
        raise ValueError(message)
    return Checkpoint(seq=seq, hash=digest)


def advance_checkpoint(path: Path, checkpoint: Checkpoint) -> bool:
    """Write ``checkpoint`` unless the file already holds the same or a later seq.

    Returns whether the file was written. An unreadable file is left alone: it
    is evidence for ``verify()``, not something to paper over.
    """
    current = read_checkpoint(path)
    if current is not None and current.seq >= checkpoint.seq:
        return False
    payload = json.dumps({"seq": checkpoint.seq, "hash": checkpoint.hash}) + "\n"
    fd, tmp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            tmp.write(payload)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return True
