"""How a platform connector plugs into ``copilot serve`` (the app is ``copilot/_app.py``).

A connector is a package ``connectors/<platform>/`` whose ``__init__`` exports two
functions (the app imports the package lazily, only when serving)::

    def missing_settings(settings: Settings) -> list[str]:
        # names of the COPILOT_* variables it needs and lacks; [] means "mount me"
        ...

    def platform(server: ServerState) -> Platform:
        # called once per worker, after the engine and the stores are loaded and
        # before the port opens; returns the routes to mount and the hooks to run
        return Platform(
            name="wecom",
            routes=[Route("/wecom/callback", callback, methods=["GET", "POST"]),
                    Route("/wecom/sidebar", sidebar)],
            startup=[fetch_access_token],     # awaited before the port opens (fail = no start)
            shutdown=[close_http_client],
        )

and is listed in ``PLATFORMS`` in ``copilot/_app.py``. Route handlers reach the
shared parts through ``server``: ``server.copilot`` (the engine: ``await
server.copilot.suggest(conversation, actor=...)``, the audit log, rep actions),
``server.state`` (chat state and the ``claim(key)`` that makes a retried delivery
processed once across workers; a sync API: call it with ``asyncio.to_thread``)
and ``server.settings``. The engine orders concurrent presses itself (its press
lanes, first come first served) and raises ``Busy`` at once when too many wait: a
connector tells the person to retry, after the platform was acknowledged. A handler verifies
the request first (bad signature: 4xx, nothing processed or logged), acknowledges
within the platform's limit and
hands the work to ``server.spawn(coro)``, which keeps a reference to the task and
logs (without payloads) any exception it raises.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute

from copilot import Settings

from ._state import StateStore

if TYPE_CHECKING:
    from copilot import Copilot

__all__ = ["Platform", "ServerState"]

log = logging.getLogger("copilot.serve")


@dataclass
class Platform:
    """What one connector contributes to the app."""

    name: str
    routes: Sequence[BaseRoute]
    startup: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


@dataclass
class ServerState:
    """The parts every connector shares, loaded once per worker at start."""

    settings: Settings
    copilot: Copilot
    state: StateStore
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, work: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Run ``work`` in the background after the platform was acknowledged."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("%s failed: %s: %s", task.get_name(), type(exc).__name__, exc)

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Wait for background work still running (at shutdown)."""
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=timeout_s)
