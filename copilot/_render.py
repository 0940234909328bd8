"""Terminal rendering of suggestion sets and reports (rich)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ._engine import conversation_redactor, map_strings, redact_conversation
from ._models import Conversation, SuggestionSet
from ._untrusted import terminal_text

__all__ = ["suggestion_panel"]


def suggestion_panel(conversation: Conversation, result: SuggestionSet, title: str = "") -> Panel:
    """One readable panel: what the customer said and what the copilot offers.

    Customer, deal and atom text is shown literally: ANSI escapes and control
    characters are dropped, and nothing in it is read as Rich markup (every
    piece is a ``Text``, never a markup string).
    """
    redactor = conversation_redactor(conversation)
    seen = redact_conversation(conversation, redactor)  # what the engine saw, with real names
    seen = Conversation.model_validate(map_strings(seen.model_dump(by_alias=True), terminal_text))
    result = SuggestionSet.model_validate(map_strings(result.model_dump(), terminal_text))
    last = seen.messages[-1]
    speaker = seen.participant(last.sender)
    who = f"{speaker.name} ({speaker.title})" if speaker and speaker.title else last.sender
    side = seen.side_of(last).capitalize()
    said = (f"{side} ", "bold"), (f"{redactor.restore(who)}: ", "cyan"), redactor.restore(last.text)
    parts: list[RenderableType] = [Text.assemble(*said)]
    parts.append(_suggestions(result))
    if result.competitor:
        comp = result.competitor
        parts.append(
            Text.assemble(
                ("Competitor ", "bold magenta"),
                (f"{comp.name}", "magenta"),
                f"  — {comp.response} ",
                (f"[{', '.join(comp.citations)}]", "dim"),
            )
        )
    for note in result.guidance:  # the rep's eyes only: never one of the replies above
        cited = f"[{', '.join(note.citations)}]"
        parts.append(Text.assemble(("Guidance ", "bold blue"), f"{note.text} ", (cited, "dim")))
    parts.append(_chain(result))
    if result.compliance:
        for verdict in result.compliance:
            parts.append(
                Text.assemble(
                    ("Compliance ", "bold yellow"),
                    f"{verdict.target}: {verdict.rule} {verdict.action} ",
                    (f"({verdict.basis}) {verdict.detail}", "dim"),
                )
            )
    else:
        parts.append(Text("Compliance  all outputs passed", style="green"))
    timings = result.timings_ms
    parts.append(
        Text(
            f"{result.engine} engine · retrieve {timings.get('retrieve', 0):.1f} ms · "
            f"agents {timings.get('agents', 0):.1f} ms · total {timings.get('total', 0):.1f} ms",
            style="dim",
        )
    )
    deal = conversation.deal
    heading = Text(terminal_text(title or conversation.id))
    subtitle = Text(terminal_text(f"{deal.customer} · {deal.industry or 'any industry'} · {deal.stage}"))
    return Panel(Group(*parts), title=heading, subtitle=subtitle, expand=True)


def _suggestions(result: SuggestionSet) -> Table:
    table = Table(show_header=False, box=None, padding=(0, 1))
    table.add_column(style="bold green", width=3)
    table.add_column(ratio=1, overflow="fold")
    for number, suggestion in enumerate(result.suggestions, 1):
        cite = ", ".join(suggestion.citations)
        basis = f"  {'; '.join(suggestion.legal_basis)}" if suggestion.legal_basis else ""
        table.add_row(f"{number}.", Text.assemble(suggestion.text, " ", (f"[{cite}]{basis}", "dim")))
    if not result.suggestions:
        table.add_row("–", Text("no approved atom matches this conversation", style="yellow"))
    return table


def _chain(result: SuggestionSet) -> Text:
    chain = result.decision_chain
    covered = ", ".join(f"{c.role} ({c.state})" for c in chain.covered) or "none"
    missing = ", ".join(chain.missing_roles) or "none"
    text = Text.assemble(
        ("Decision chain ", "bold blue"),
        f"needs {', '.join(chain.required_roles) or '—'}; ",
        f"covered {covered}; ",
        ("missing ", "bold"),
        (missing, "red" if chain.missing_roles else "green"),
    )
    if chain.next_action:
        text.append(f"\n  → {chain.next_action.text} (within {chain.next_action.deadline_hours} h)")
    return text
