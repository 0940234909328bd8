"""The head checkpoint: the newest row's seq and hash, kept outside the database.

A hash chain cannot show that its newest rows were deleted: what is left is
still a valid chain. So after every committed append the store writes
``{"seq": N, "hash": "…"}`` to a small file next to the log (mode 0600),
atomically: temporary file, fsync, ``os.replace``. Before every append the
store checks that the log's tail still is that checkpoint (``check_tail``) and
refuses to extend a log that does not match; ``verify()`` checks the same.

Once the file exists, a writer that keeps it open updates it in place instead
(``update_checkpoint``): one 256-byte record rewritten whole at offset 0 and
``fdatasync``ed, about a third of the cost of a new file and a rename on every
append. A write within one disk sector is all or nothing, the assumption
PostgreSQL makes for its own ``pg_control`` file; the record never changes size.

A write interrupted between the commit and the rename leaves a fsynced
``<name>.<random>.tmp`` beside the file. Its content was written only after the
rows were committed, so it is as good a witness as the file itself:
``read_checkpoint`` takes the newest valid checkpoint among the file and such
leftovers, and ``write_checkpoint`` removes them once the file has moved past.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ._chain import GENESIS_HASH

__all__ = [
    "Checkpoint",
    "NamedCheckpoint",
    "TailMismatch",
    "check_tail",
    "read_checkpoint",
    "update_checkpoint",
    "write_checkpoint",
]


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str


@dataclass(frozen=True)
class NamedCheckpoint:
    """A checkpoint and where it came from (``head checkpoint``, ``checkpoint q3.json``)."""

    name: str
    checkpoint: Checkpoint | None
    required: bool = True
    """A missing required checkpoint fails a non-empty log (the head); an export is always given."""


@dataclass(frozen=True)
class TailMismatch:
    """Why a log's tail does not continue its checkpoint."""

    kind: str
    """``deleted`` (newest rows gone), ``rewritten`` (row at the checkpoint differs),
    ``missing`` (no checkpoint for a non-empty log), ``unreadable``."""
    detail: str


def _parse(path: Path, text: str) -> Checkpoint:
    try:
        data = json.loads(text)
        seq, digest = data["seq"], data["hash"]
    except (ValueError, TypeError, KeyError) as exc:
        message = f"head checkpoint {path} is unreadable ({exc!r})"
        raise ValueError(message) from exc
    if not isinstance(seq, int) or not isinstance(digest, str) or seq < 0:
        message = f"head checkpoint {path} is unreadable (seq must be an integer >= 0, hash a string)"
        raise ValueError(message)
    return Checkpoint(seq=seq, hash=digest)


def _read_file(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        message = f"head checkpoint {path} is a directory, not a file; move it away (it must be a JSON file)"
        raise ValueError(message) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        message = f"head checkpoint {path} cannot be read: {reason}; give this process read access to it"
        raise ValueError(message) from None


def _leftovers(path: Path) -> list[Path]:
    try:
        return sorted(path.parent.glob(f"{path.name}.*.tmp"))
    except OSError:
        return []


def read_checkpoint(path: Path) -> Checkpoint | None:
    """The newest checkpoint in ``path`` or its fsynced leftovers; None if there is none.

    Raises ``ValueError`` (saying what to fix) when the file exists but is not a
    readable checkpoint: a directory, unreadable, or not checkpoint JSON.
    """
    text = _read_file(path)
    best = None if text is None else _parse(path, text)
    for leftover in _leftovers(path):
        try:
            found = _parse(leftover, leftover.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            continue  # torn before its fsync: written before nothing was promised
        if best is None or found.seq > best.seq:
            best = found
    return best


_RECORD = 256


def _record(checkpoint: Checkpoint) -> str:
    """The checkpoint as JSON padded to ``_RECORD`` bytes (ASCII: seq and hex hash only)."""
    text = json.dumps({"seq": checkpoint.seq, "hash": checkpoint.hash})
    return text.ljust(_RECORD - 1) + "\n" if len(text) < _RECORD else text + "\n"


def update_checkpoint(path: Path, checkpoint: Checkpoint, fd: int | None) -> int:
    """Write ``checkpoint`` to ``path`` through ``fd`` (from an earlier call) in place;
    a new file (``write_checkpoint``) when there is no fd yet, the record would not fit,
    or ``path`` is no longer the file ``fd`` has open. Returns the fd to pass next time."""
    record = _record(checkpoint).encode("ascii")
    if fd is not None:
        try:
            opened, current = os.fstat(fd), os.stat(path)
            if (opened.st_dev, opened.st_ino) == (current.st_dev, current.st_ino) and len(record) == _RECORD:
                os.pwrite(fd, record, 0)
                os.fdatasync(fd)
                return fd
        except OSError:
            pass  # replaced, removed, or the disk refused: write a new file (or fail there)
        os.close(fd)
    write_checkpoint(path, checkpoint)
    return os.open(path, os.O_WRONLY)


def write_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Replace the checkpoint in ``path`` (mode 0600) and remove older leftovers."""
    payload = _record(checkpoint)
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
    for leftover in _leftovers(path):
        leftover.unlink(missing_ok=True)


def check_tail(checkpoint: Checkpoint | None, tail: Checkpoint, hash_at: str | None) -> TailMismatch | None:
    """Whether a log whose newest row is ``tail`` continues ``checkpoint``.

    ``hash_at`` is the log's hash at ``checkpoint.seq`` (None when there is no
    such row). A log may run ahead of its checkpoint (a write interrupted after
    the commit); it may not fall short of it or differ at it.
    """
    if checkpoint is None:
        if tail.seq == 0:
            return None
        return TailMismatch("missing", f"the log has {tail.seq} rows but its head checkpoint is missing")
    if tail.seq < checkpoint.seq:
        detail = f"the log ends at seq {tail.seq} but its head checkpoint is at seq {checkpoint.seq}"
        return TailMismatch("deleted", f"newest rows deleted: {detail}")
    expected = GENESIS_HASH if checkpoint.seq == 0 else hash_at
    if expected != checkpoint.hash:
        return TailMismatch("rewritten", f"the row at seq {checkpoint.seq} differs from the head checkpoint")
    return None
