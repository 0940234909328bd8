"""Bolt listeners: the Suggest shortcut, /suggest, the buttons, the rep's own replies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt.async_app import AsyncApp

if TYPE_CHECKING:
    from .._server import ServerState
    from ._platform import SlackIdentity

__all__ = ["register"]


def register(bolt: AsyncApp, server: ServerState, identity: SlackIdentity) -> None:
    """Attach every listener to ``bolt`` (URL verification is Bolt's own)."""
