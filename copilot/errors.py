"""The one error tree of Sales Copilot.

Every error a user can meet derives from :class:`CopilotError`; its message says
what was wrong, where, and how to fix it::

    CopilotError
    ├── ConfigError             a setting is missing or invalid
    ├── InputError              a file or payload we were given is malformed
    │   ├── AtomValidationError     one or more atom files are invalid (file, line, field)
    │   ├── ConversationError       a conversation document is malformed
    │   ├── ActionRefused           a rep action or feedback the audit log will not record
    │   └── SuiteError              one or more eval suite files are invalid (file, line, field)
    ├── StoreError              the vector store or audit store failed
    │   └── AuditIntegrityError     the audit hash chain does not verify
    ├── Busy                    too many presses waiting on this worker: retry in a moment
    ├── ConnectorError          a platform (Slack, WeCom) call or payload failed
    ├── ModelError              the chat model failed (``reason``: "timeout", "http 500", …)
    └── ComplianceBlocked       an output was blocked and nothing compliant replaced it
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ActionRefused",
    "AtomProblem",
    "AtomValidationError",
    "AuditIntegrityError",
    "Busy",
    "ComplianceBlocked",
    "ConfigError",
    "ConnectorError",
    "ConversationError",
    "CopilotError",
    "FileProblem",
    "InputError",
    "ModelError",
    "StoreError",
    "SuiteError",
    "SuiteProblem",
]


class CopilotError(Exception):
    """Base class of every error Sales Copilot raises on purpose."""


class ConfigError(CopilotError):
    """A setting is missing or invalid; the message names the COPILOT_* variable."""


class InputError(CopilotError):
    """Something we were handed (a file, a payload) is malformed."""


@dataclass(frozen=True)
class FileProblem:
    """One problem found in one file we were given (an atom file, an eval suite)."""

    path: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.message}"


AtomProblem = FileProblem  # one problem in an atom file
SuiteProblem = FileProblem  # one problem in an eval suite file


class AtomValidationError(InputError):
    """One or more atom files are invalid. ``problems`` lists every one found."""

    def __init__(self, problems: list[AtomProblem]) -> None:
        self.problems = list(problems)
        files = len({p.path for p in self.problems})
        lines = "\n".join(f"  {p}" for p in self.problems)
        summary = f"{len(self.problems)} problem(s) in {files} atom file(s):\n{lines}"
        super().__init__(summary)


class ConversationError(InputError):
    """A conversation document is malformed (the message names file and field)."""


class ActionRefused(InputError):
    """A rep action or feedback was refused: unknown set, not the set's rep, a second
    final action on one set, or an index/atom the set did not show."""


class SuiteError(InputError):
    """One or more eval suite files are invalid. ``problems`` lists every one found."""

    def __init__(self, problems: list[SuiteProblem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in eval suite file(s):\n{lines}")


class StoreError(CopilotError):
    """The vector store or the audit store failed."""


class AuditIntegrityError(StoreError):
    """The audit log's hash chain does not verify; ``row`` is the first bad row."""

    def __init__(self, message: str, row: int | None = None) -> None:
        self.row = row
        super().__init__(message)


class Busy(CopilotError):
    """Too many presses are waiting on this worker; the connector asks the rep to retry."""


class ConnectorError(CopilotError):
    """A platform call or payload failed (the message names platform and event)."""


class ModelError(CopilotError):
    """The chat model did not give a usable answer. ``reason`` is short and stable
    (``"timeout"``, ``"http 500"``, ``"http 429"``, ``"connection refused"``,
    ``"unparseable"``): it becomes ``SuggestionSet.fallback.reason``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"chat model failed ({reason}){': ' + detail if detail else ''}")


class ComplianceBlocked(CopilotError):
    """An output was blocked by the compliance guard and nothing replaced it."""
