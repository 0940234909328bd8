"""Choose the audit backend from a path or a database URL."""

from __future__ import annotations

import os
from pathlib import Path

from copilot.errors import ConfigError

from ._sqlite import SQLiteAuditStore
from ._store import AuditStore

__all__ = ["open_audit_store"]


def open_audit_store(
    path_or_url: str | os.PathLike[str],
    *,
    read_only: bool = False,
    home: str | os.PathLike[str] | None = None,
) -> AuditStore:
    """Open (creating and migrating if needed) the audit log at ``path_or_url``.

    A file path or a ``sqlite:///path`` URL opens the embedded SQLite store,
    creating its folder (mode 0700). A ``postgresql://`` URL opens the
    PostgreSQL store; its head checkpoint is kept in ``home`` (default: the
    SQLite-style folder ``~/.copilot``). ``read_only`` opens an existing log
    without writing anything, not even a migration (for verify, reports, exports).
    """
    text = os.fspath(path_or_url)
    scheme, sep, rest = text.partition("://")
    if not sep:
        path = Path(text).expanduser()
    elif scheme.lower().split("+")[0] in ("postgresql", "postgres"):
        from ._postgres import PostgresAuditStore

        folder = Path(home if home is not None else "~/.copilot").expanduser()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return PostgresAuditStore(f"postgresql://{rest}", folder, read_only=read_only)
    elif scheme.lower() == "sqlite" and rest.startswith("/") and len(rest) > 1:
        path = Path(rest[1:]).expanduser()  # SQLAlchemy style: sqlite:///rel, sqlite:////abs
    else:
        message = (
            f"unsupported audit database URL {scheme}://…; give a file path, a postgresql:// URL,"
            " or unset COPILOT_DATABASE_URL"
        )
        raise ConfigError(message)
    if not read_only:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return SQLiteAuditStore(path, read_only=read_only)
