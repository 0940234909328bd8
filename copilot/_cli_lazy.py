"""The ``copilot`` group: loads each command's module only when that command runs.

``copilot --help`` lists every command from a table of names and one-line help,
so it imports neither pydantic, rich, chromadb nor the embedding model.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from ._untrusted import terminal_text
from .errors import AuditIntegrityError, CopilotError

__all__ = ["BadInput", "FailedCheck", "LazyGroup"]


class BadInput(click.ClickException):
    """Bad input from the user: exit code 2, as the CLI contract says. The message
    loses terminal escapes and control characters (it may quote user input)."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(terminal_text(message))


class FailedCheck(click.ClickException):
    """An integrity check failed (the audit log does not verify): exit code 1."""

    exit_code = 1


class LazyGroup(click.Group):
    """A click group whose commands are ``name -> (module, attribute, one-line help)``.

    Any :class:`CopilotError` a command raises becomes a one-line message and exit
    code 2 (1 for :class:`AuditIntegrityError`: the log failed its check), never a
    traceback; the error's text says what to fix.
    """

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str, str]] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module, attribute, _ = self.lazy[cmd_name]
            command = getattr(importlib.import_module(module, __package__), attribute)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.lazy[name][2]) for name in sorted(self.lazy)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        for number, arg in enumerate(args, 1):
            if not _is_utf8(arg):
                shown = arg.encode("utf-8", "backslashreplace").decode("utf-8")
                raise BadInput(f"argument {number} ({shown!r}) is not valid UTF-8; pass UTF-8 text and paths")
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AuditIntegrityError as exc:
            raise FailedCheck(str(exc)) from None
        except CopilotError as exc:
            raise BadInput(str(exc)) from None


def _is_utf8(arg: str) -> bool:
    """False for an argument holding bytes that were not UTF-8 (Python keeps them as lone surrogates)."""
    try:
        arg.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
