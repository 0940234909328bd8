"""``copilot demo``: the whole product on the bundled sample data, offline."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.rule import Rule

from ._cli_common import err_console, load_conversation, out_console, print_json
from ._engine import Copilot
from ._ingest import ingest_folder
from ._models import Conversation, SuggestionSet
from ._render import suggestion_panel
from ._settings import Settings
from ._untrusted import markup_safe
from .errors import ConversationError

__all__ = ["run_demo"]


def run_demo(settings: Settings, kb: Path, conversations: Path, *, as_json: bool) -> None:
    files = sorted(conversations.glob("*.json"))
    if not files:
        raise ConversationError(f"{conversations}: no *.json conversation files; pass --conversations")
    loaded = [(path, load_conversation(path)) for path in files]  # fail before any work
    copilot = Copilot.open(settings, read_only=False)  # it ingests the sample KB first
    try:
        report = ingest_folder(
            kb, copilot.store, copilot.audit, err_console, home=settings.home, actor="demo"
        )
        if not as_json:
            err_console.print(
                f"[bold]Knowledge base[/] {markup_safe(str(kb))}: {report.count('added')} added, "
                f"{report.count('updated')} updated, {report.count('removed')} removed, "
                f"{report.unchanged} unchanged · demo data in {markup_safe(str(settings.home))}"
            )
        copilot.warm_up()
        results = asyncio.run(_run_all(copilot, [c for _, c in loaded]))
    finally:
        copilot.close()
    if as_json:
        print_json([r.model_dump(mode="json") for r in results])
        return
    for (path, conversation), result in zip(loaded, results, strict=True):
        out_console.print(suggestion_panel(conversation, result, title=path.name))
    totals = sorted(r.timings_ms["total"] for r in results)
    out_console.print(Rule())
    out_console.print(
        f"{len(results)} conversations · median Suggest {totals[len(totals) // 2]:.1f} ms · "
        f"every result logged in {markup_safe(str(settings.home))}"
    )
    home = markup_safe(str(settings.home))
    out_console.print(f"Check the log: [bold]COPILOT_HOME={home} copilot audit verify[/]")


async def _run_all(copilot: Copilot, conversations: list[Conversation]) -> list[SuggestionSet]:
    # One after another: each press is timed alone, as a rep would see it.
    return [await copilot.suggest(conversation) for conversation in conversations]
