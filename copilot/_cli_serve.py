"""``copilot serve``: the ASGI app under uvicorn (imported only when the command runs)."""

from __future__ import annotations

import os

import click

from ._cli_common import BadInput, err_console, settings
from ._settings import Settings

__all__ = ["serve"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0: all).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes; each loads its own engine. Retries are deduplicated across them.",
)
@click.option(
    "--slack-socket-mode",
    is_flag=True,
    help="Receive Slack events over Socket Mode (needs COPILOT_SLACK_APP_TOKEN); no public URL needed.",
)
def serve(host: str, port: int, workers: int, slack_socket_mode: bool) -> None:
    """Serve Slack and WeCom: one app with /slack/events, /wecom/callback,
    /wecom/sidebar, /healthz and /readyz.

    A platform is mounted only when its settings are present; serve says at start
    which are and which variables the others need. The engine, the embedding model
    and the stores load before the port opens.

    \b
    Example (Slack over HTTP):
      export COPILOT_SLACK_SIGNING_SECRET=... COPILOT_SLACK_BOT_TOKEN=xoxb-...
      copilot knowledge ingest examples/kb
      copilot serve --host 0.0.0.0 --port 8000 --workers 2
      curl -s localhost:8000/readyz
    """
    import uvicorn

    from ._app import mount_plan

    config = settings()
    if slack_socket_mode:
        if config.slack_app_token is None:
            raise BadInput("--slack-socket-mode needs COPILOT_SLACK_APP_TOKEN (an xapp-… app-level token)")
        # Workers are separate processes: hand the flag to them as its setting.
        os.environ["COPILOT_SLACK_SOCKET_MODE"] = "true"
        config = config.model_copy(update={"slack_socket_mode": True})
    plans = mount_plan(config)
    for plan in plans:
        if plan.mounted:
            err_console.print(f"[green]{plan.platform}[/]: mounted ({_where(plan.platform, config)})")
        else:
            err_console.print(f"[yellow]{plan.platform}[/]: not mounted ({plan.reason})")
    if not any(plan.mounted for plan in plans):
        err_console.print("no platform is mounted: only /healthz and /readyz will answer")
    err_console.print(
        f"loading the engine and stores in {workers} worker(s), then listening on {host}:{port}"
    )
    uvicorn.run(
        "copilot._app:app_from_settings",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",  # startup lines and the access log (paths and status codes, never bodies)
        server_header=False,
    )


def _where(platform: str, config: Settings) -> str:
    if platform == "slack":
        where = "Socket Mode" if config.slack_socket_mode else "POST /slack/events"
        if config.slack_client_id and config.slack_client_secret:
            where += "; reps connect at GET /slack/oauth_redirect (/suggest connect)"
        return where
    if platform == "wecom":
        return "/wecom/callback, /wecom/sidebar"
    return f"/{platform}"
