"""The one ASGI app of ``copilot serve``: every platform connector, health and readiness.

``create_app(settings)`` loads the engine (embedding model, atom store, audit
log) and the conversation-state store once, then mounts each platform listed in
``PLATFORMS`` whose settings are present (how a connector plugs in:
``connectors/_server.py``). Its startup hooks run in the app's lifespan, before
uvicorn opens the port. ``app_from_settings`` is the factory uvicorn imports in
each worker when ``--workers`` is above 1.

Routes: ``/healthz`` (200 when the stores answer, else 503) and ``/readyz``
(200 once every platform has started and the knowledge base has atoms), plus
the platforms' own (``/slack/events``, ``/wecom/callback``, ``/wecom/sidebar``).
While serving, each worker records ``ignored`` every ``COPILOT_AUDIT_SWEEP_S`` for
sets left without an action past ``COPILOT_ACTION_WINDOW_HOURS`` (``audit.sweep_forever``).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ._settings import Settings
from .errors import CopilotError

if TYPE_CHECKING:
    from connectors import Platform, ServerState

    from ._engine import Copilot

__all__ = ["PLATFORMS", "MountPlan", "app_from_settings", "create_app", "mount_plan"]

log = logging.getLogger("copilot.serve")

# Platform name -> the connector package that provides it (imported only when mounted).
PLATFORMS: dict[str, str] = {"slack": "connectors.slack", "wecom": "connectors.wecom"}


@dataclass(frozen=True)
class MountPlan:
    """Whether one platform will be mounted, and if not, why."""

    platform: str
    mounted: bool
    reason: str = ""


def mount_plan(settings: Settings) -> list[MountPlan]:
    """Which platforms the settings allow; cheap (no engine is loaded)."""
    plans = []
    for name, package in PLATFORMS.items():
        try:
            module = importlib.import_module(package)
        except ModuleNotFoundError as exc:
            if exc.name is None or not package.startswith(exc.name):
                raise
            plans.append(MountPlan(name, False, "not available in this version"))
            continue
        missing: list[str] = module.missing_settings(settings)
        reason = f"set {', '.join(missing)}" if missing else ""
        plans.append(MountPlan(name, not missing, reason))
    return plans


def create_app(settings: Settings, *, copilot: Copilot | None = None) -> Starlette:
    """Load the engine and stores, mount the configured platforms; the caller owns
    ``copilot`` when it passes one (tests, benchmarks), else the app closes it."""
    from audit import sweep_forever
    from connectors import ServerState, open_state_store

    from ._engine import Copilot

    owned = copilot is None
    engine = copilot or Copilot.open(settings)
    engine.warm_up()
    try:
        server = ServerState(settings=settings, copilot=engine, state=open_state_store(settings))
    except BaseException:
        if owned:
            engine.close()
        raise
    platforms = [
        importlib.import_module(PLATFORMS[plan.platform]).platform(server)
        for plan in mount_plan(settings)
        if plan.mounted
    ]
    health = _Health(server, platforms)
    routes = [Route("/healthz", health.healthz), Route("/readyz", health.readyz)]
    routes += [route for platform in platforms for route in platform.routes]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sweeper: asyncio.Task[None] | None = None
        try:
            for platform in platforms:
                for hook in platform.startup:
                    await hook()
            if settings.audit_sweep_s:
                # Every worker sweeps; a set swept by two is recorded once (the log refuses a second).
                window = timedelta(hours=settings.action_window_hours)
                sweep = sweep_forever(engine.audit, window, every_s=settings.audit_sweep_s)
                sweeper = asyncio.get_running_loop().create_task(sweep, name="audit sweep")
            health.started = True
            names = ", ".join(p.name for p in platforms) or "no platform"
            log.info("ready: %s mounted", names)
            yield
        finally:
            health.started = False
            if sweeper is not None:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
            await server.drain()
            for platform in platforms:
                for hook in platform.shutdown:
                    await hook()
            server.state.close()
            if owned:
                engine.close()

    return Starlette(routes=routes, lifespan=lifespan)


def app_from_settings() -> Starlette:
    """Uvicorn's app factory (``copilot._app:app_from_settings``): settings from the
    environment; a bad setting or an unreachable store ends the worker with the reason."""
    from ._cli_common import configure_logging

    try:
        settings = Settings()
        configure_logging(settings)
        return create_app(settings)
    except (CopilotError, ValidationError) as exc:
        print(f"copilot serve: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


class _Health:
    def __init__(self, server: ServerState, platforms: list[Platform]) -> None:
        self.server = server
        self.platforms = platforms
        self.started = False

    async def healthz(self, request: Request) -> JSONResponse:
        checks = await asyncio.to_thread(self._checks)
        ok = all(value == "ok" for value in checks.values())
        return JSONResponse({"ok": ok, "checks": checks}, status_code=200 if ok else 503)

    async def readyz(self, request: Request) -> JSONResponse:
        problems = []
        if not self.started:
            problems.append("starting")
        atoms = await asyncio.to_thread(self._atoms)
        if atoms == 0:
            problems.append("the knowledge base is empty; run: copilot knowledge ingest DIR")
        body: dict[str, Any] = {
            "ready": not problems,
            "platforms": [p.name for p in self.platforms],
            "atoms": atoms,
            "problems": problems,
        }
        return JSONResponse(body, status_code=200 if not problems else 503)

    def _checks(self) -> dict[str, str]:
        engine = self.server.copilot
        probes = {
            "state": self.server.state.ping,
            "audit": engine.audit.count,
            "atoms": engine.store.count,
        }
        checks = {}
        for name, probe in probes.items():
            try:
                probe()
                checks[name] = "ok"
            except (CopilotError, OSError) as exc:
                log.warning("health check %s failed: %s", name, exc)
                checks[name] = "failed"
        return checks

    def _atoms(self) -> int | None:
        try:
            return self.server.copilot.store.count()
        except CopilotError:
            return None
