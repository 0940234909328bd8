"""The ``copilot`` command line: demo, suggest, knowledge, audit, eval.

Each command's module is imported only when it runs (see ``_cli_lazy``), so
``copilot --help`` stays fast.
"""

from __future__ import annotations

import click

from ._cli_lazy import LazyGroup

__all__ = ["main"]

COMMANDS = {
    "demo": (
        "._cli_press",
        "demo",
        "Run the copilot on the sample knowledge base and conversations, offline.",
    ),
    "suggest": ("._cli_press", "suggest", "Press Suggest on one conversation and log the result."),
    "knowledge": ("._cli_knowledge", "knowledge", "Curate knowledge atoms: validate, ingest, list, search."),
    "audit": ("._cli_audit", "audit", "The decision audit log: record actions, report, verify, export."),
    "serve": ("._cli_serve", "serve", "Serve Slack and WeCom (one app, /healthz, /readyz) with uvicorn."),
    "eval": ("._cli_eval", "eval_group", "Prompt regression suites: run them, compare two configurations."),
}


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sales-copilot")
def main() -> None:
    """Sales Copilot: three compliant, cited reply suggestions for a B2B sales chat,
    the approved answer to any competitor named, and the buying roles still missing.

    \b
    Start here:
      copilot demo                                 # sample KB + conversations, offline
      copilot knowledge ingest examples/kb         # load your own atoms
      copilot suggest --conversation chat.json     # one Suggest press
      copilot audit verify                         # prove the decision log is intact
      copilot serve --port 8000                    # Slack and WeCom apps, /healthz
      copilot eval run evals/suites                # prompt regression suites

    All state lives in COPILOT_HOME (default ~/.copilot).
    """
