"""``copilot suggest`` and ``copilot demo``: pressing Suggest from the terminal."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ._cli_common import BadInput, load_conversation, out_console, print_json, settings

if TYPE_CHECKING:
    from ._engine import Copilot
    from ._models import Conversation, SuggestionSet

__all__ = ["demo", "suggest"]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@click.command()
@click.option(
    "--conversation",
    "conversation_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Conversation JSON file (the format in the README).",
)
@click.option("--actor", default=None, help="Rep id for the audit log (default: the rep participant).")
@click.option("--json", "as_json", is_flag=True, help="Print the SuggestionSet as JSON only.")
def suggest(conversation_path: Path, actor: str | None, as_json: bool) -> None:
    """Press Suggest on one conversation and log the result.

    \b
    Example:
      copilot suggest --conversation examples/conversations/01-price-objection-mfg.json --json
    """
    from ._engine import Copilot
    from ._render import suggestion_panel

    conversation = load_conversation(conversation_path)
    copilot = Copilot.open(settings())
    try:
        if not copilot.store.count():
            raise BadInput("the knowledge base is empty; run: copilot knowledge ingest examples/kb")
        # The embedding model's load is process start, not part of the press's timings; the
        # LLM client's import (1-3 s) is not waited for: it counts against COPILOT_LLM_TIMEOUT_S.
        copilot.warm_up(model=False)
        result = asyncio.run(_press(copilot, conversation, actor))
    finally:
        copilot.close()
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        out_console.print(suggestion_panel(conversation, result, title=conversation_path.name))


async def _press(copilot: Copilot, conversation: Conversation, actor: str | None) -> SuggestionSet:
    try:
        return await copilot.suggest(conversation, actor=actor)
    finally:
        await copilot.aclose()  # the chat model's connections, if one is configured


@click.command()
@click.option(
    "--kb",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Knowledge base folder (default: the bundled examples/kb).",
)
@click.option(
    "--conversations",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder of conversation JSON files (default: examples/conversations).",
)
@click.option("--json", "as_json", is_flag=True, help="Print all suggestion sets as one JSON list.")
def demo(kb: Path | None, conversations: Path | None, as_json: bool) -> None:
    """Run the copilot on the sample knowledge base and conversations, offline.

    Everything happens in COPILOT_HOME/demo with the embedded defaults, so the
    demo never touches your own knowledge base or audit log: it ingests the
    sample atoms (only what changed), presses Suggest on every conversation,
    prints each result and logs it to the demo's decision audit log. No API
    key, no network.
    """
    from ._demo import run_demo

    kb = kb or EXAMPLES / "kb"
    conversations = conversations or EXAMPLES / "conversations"
    for folder in (kb, conversations):
        if not folder.is_dir():
            raise BadInput(f"{folder} not found; pass --kb and --conversations folders")
    config = settings()
    demo_settings = config.model_copy(
        update={"home": config.home / "demo", "chroma_url": None, "database_url": None, "llm_base_url": None}
    )
    run_demo(demo_settings, kb, conversations, as_json=as_json)
