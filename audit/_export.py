"""Checkpoints exported beyond the machine, signed with Ed25519 when a key is set.

``copilot audit checkpoint --out FILE`` writes the log's count, head seq and
hash and the time, as canonical JSON, plus an Ed25519 signature over that text
when ``COPILOT_AUDIT_SIGNING_KEY`` is set. Kept elsewhere (a ticket, a mail, a
WORM bucket), such a file later proves that the log still holds every row it
held then: deleting the newest rows and the local head file together is caught
by ``copilot audit verify --checkpoint FILE``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from copilot.errors import AuditIntegrityError, ConfigError, InputError

from ._chain import canonical_json
from ._checkpoint import Checkpoint, NamedCheckpoint
from ._store import VerifyReport

if TYPE_CHECKING:  # cryptography is imported where a key is used: a press never needs it
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["export_checkpoint", "load_exported_checkpoint", "signing_key"]

MAX_CHECKPOINT_BYTES = 64 * 1024


def signing_key(text: str) -> Ed25519PrivateKey:
    """The Ed25519 key in ``text``: a PEM private key, or the 32-byte seed as 64 hex digits."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(text))
    except ValueError as exc:
        message = (
            "COPILOT_AUDIT_SIGNING_KEY is not an Ed25519 private key (give a PEM key or 64 hex digits;"
            f" make one with: openssl genpkey -algorithm ed25519): {exc}"
        )
        raise ConfigError(message) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError("COPILOT_AUDIT_SIGNING_KEY must be an Ed25519 key, not another kind")
    return key


def _public_hex(key: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def export_checkpoint(report: VerifyReport, source: str, key: Ed25519PrivateKey | None) -> dict[str, Any]:
    """The checkpoint document for a log that just verified (``report.ok``)."""
    payload: dict[str, Any] = {
        "kind": "sales-copilot-audit-checkpoint",
        "source": source,
        "count": report.rows_checked,
        "seq": report.head_seq,
        "hash": report.head_hash,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if key is None:
        return payload
    signature = key.sign(canonical_json(payload).encode("utf-8"))
    return {
        **payload,
        "signature": {
            "algorithm": "ed25519",
            "public_key": _public_hex(key.public_key()),
            "value": signature.hex(),
        },
    }


def load_exported_checkpoint(path: Path, key: Ed25519PrivateKey | None) -> NamedCheckpoint:
    """Read and check an exported checkpoint (``InputError`` naming the file and the problem).

    With a signing key configured, the file must carry a valid signature by it.
    """
    try:
        raw = path.read_bytes()[: MAX_CHECKPOINT_BYTES + 1]
    except IsADirectoryError:
        raise InputError(
            f"checkpoint {path} is a directory; give the file written by `copilot audit checkpoint`"
        ) from None
    except OSError as exc:
        raise InputError(f"checkpoint {path} cannot be read: {exc.strerror}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
        seq, digest = data["seq"], data["hash"]
    except (UnicodeDecodeError, ValueError, TypeError, KeyError):
        raise InputError(f"checkpoint {path} is not a checkpoint file (JSON with seq and hash)") from None
    if not isinstance(seq, int) or seq < 0 or not isinstance(digest, str):
        raise InputError(f"checkpoint {path}: seq must be an integer >= 0 and hash a string")
    signature = data.pop("signature", None)
    if key is not None:
        if not isinstance(signature, dict):
            raise InputError(f"checkpoint {path} is not signed, but COPILOT_AUDIT_SIGNING_KEY is set")
        from cryptography.exceptions import InvalidSignature

        try:
            key.public_key().verify(
                bytes.fromhex(str(signature.get("value", ""))), canonical_json(data).encode()
            )
        except (InvalidSignature, ValueError):
            message = (
                f"checkpoint {path}: signature does not match COPILOT_AUDIT_SIGNING_KEY (forged or edited)"
            )
            raise AuditIntegrityError(message) from None
    return NamedCheckpoint(f"checkpoint {path.name}", Checkpoint(seq=seq, hash=digest))
